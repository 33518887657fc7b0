/** Shapes of the API's answers (CONTRACT.md v1.1). */
export type ChannelName = "sms" | "lms" | "email";
export interface Account { account_id: string; name: string; gift_sending_approved: boolean; credits: number; notification_balance: Record<ChannelName, number> }
export interface Alerts { credits_below: number | null; counts_below: Partial<Record<ChannelName, number | null>> }
export interface Gift { gift_id: string; name: string; brand: string; price: number; status: "ON_SALE" | "DISCONTINUED"; validity_days: number }
export interface Promotion { promotion_id: string; name: string; created_at: string; auto_notification: AutoNotification | null }
export interface AutoNotification { enabled: boolean; channel: "sms" | "lms" | "email" | "auto"; title?: string | null; content: string }
export interface Counts { total: number; pending: number; sent: number; failed: number; resendable: number }
export interface SendSummary {
  send_id: string; promotion_id: string; status: string; origin?: string; created_at: string; send_at: string | null;
  counts: Counts; channel?: string; gift_id?: string; title?: string | null; content?: string;
}
export interface RecipientView {
  recipient_id: string; phone: string | null; email?: string | null; name: string | null; channel?: string;
  status: "PENDING" | "SENT" | "FAILED"; failure_reason: string | null; resendable: boolean; attempts: number;
  sent_at: string | null; updated_at: string | null; delivered_at?: string | null; next_retry_at?: string | null;
  coupon?: { coupon_id: string; expires_on: string } | null;
}
export interface Estimate { total: number; valid: number; invalid: number; unit_price?: number; estimated_credits?: number; available_credits?: number; shortfall?: number; [k: string]: unknown }
export interface Charge { charge_id: string; channel: ChannelName; quantity: number; credits_spent: number; created_at: string; refundable_until: string; status: string }
export interface LedgerEntry {
  entry_id: string; created_at: string; type: string; credits_delta: number;
  notification_delta: { channel: ChannelName; count: number } | null; quantity: number;
  send_id: string | null; charge_id: string | null; reference: string | null;
}
export type WebhookEventType = "recipient.sent" | "recipient.delivered" | "recipient.failed" | "send.completed" | "balance.low";
/** A registered endpoint as listed (the secret is only in the answer to its registration). */
export interface Webhook { webhook_id: string; url: string; events: WebhookEventType[]; description: string | null; enabled: boolean; created_at: string }
export interface RegisteredWebhook extends Webhook { secret: string }
export type DeliveryStatus = "PENDING" | "SUCCEEDED" | "FAILED";
export interface WebhookDelivery {
  delivery_id: string; event_id: string; type: WebhookEventType; status: DeliveryStatus; attempts: number;
  last_status_code: number | null; next_attempt_at: string | null; created_at: string; last_error?: string | null;
}
