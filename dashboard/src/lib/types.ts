/** Names for the API's shapes, all taken from the generated schema (docs/openapi.json). */
import type { Schemas } from "./api";

export type ChannelName = Schemas["ChargeView"]["channel"];
export type Account = Schemas["AccountView"];
export type Alerts = Schemas["AlertsView"];
export type Gift = Schemas["GiftView"];
export type Promotion = Schemas["PromotionView"];
export type Counts = Schemas["SendCountsView"];
export type GiftSend = Schemas["GiftSendView"];
export type NotificationSend = Schemas["NotificationSendView"];
export type SendSummary = GiftSend | NotificationSend;
export type RecipientView = Schemas["GiftRecipientView"] | Schemas["NotificationRecipientView"];
export type Estimate = Schemas["GiftSendEstimate"] | Schemas["NotificationSendEstimate"];
export type Charge = Schemas["ChargeView"];
export type LedgerEntry = Schemas["LedgerEntryView"];
export type Webhook = Schemas["WebhookView"];
export type RegisteredWebhook = Schemas["WebhookCreated"];
export type WebhookEventType = Webhook["events"][number];
export type WebhookDelivery = Schemas["WebhookDeliveryView"];
export type DeliveryStatus = WebhookDelivery["status"];
