/** The history pages' calls: a send and its recipients, gift or notification, through the one client. */
import { listAll, ok, type ApiClient, type Schemas } from "../../lib/api";

export type SendKind = "gift" | "notification";
type AnySend = Schemas["GiftSendView"] | Schemas["NotificationSendView"];
type AnyRecipient = Schemas["GiftRecipientView"] | Schemas["NotificationRecipientView"];
/** Either kind, read with the fields only one kind has as optional. */
export type SendRow = AnySend & { channel?: string | null; gift_id?: string };
export type RecipientRow = AnyRecipient & { channel?: string | null; email?: string | null; delivered_at?: string | null; coupon?: Schemas["CouponView"] | null };
export type RecipientStatus = NonNullable<NonNullable<NonNullable<import("../../lib/api/schema").operations["list_gift_recipients_gift_sends__send_id__recipients_get"]["parameters"]["query"]>["status"]>>;

export function listSends(api: ApiClient, promotionId: string, cap = 400) {
  const query = (cursor: string | undefined) => ({ params: { query: { limit: 200, cursor, ...(promotionId ? { promotion_id: promotionId } : {}) } } });
  return Promise.all([
    listAll((c) => api.GET("/gift-sends", query(c)), undefined, cap) as Promise<SendRow[]>,
    listAll((c) => api.GET("/notification-sends", query(c)), undefined, cap) as Promise<SendRow[]>,
  ]);
}

export function getSend(api: ApiClient, kind: SendKind, sendId: string): Promise<SendRow> {
  const path = { params: { path: { send_id: sendId } } };
  return kind === "gift" ? ok(api.GET("/gift-sends/{send_id}", path)) : ok(api.GET("/notification-sends/{send_id}", path));
}

export function listRecipients(api: ApiClient, kind: SendKind, sendId: string, status: RecipientStatus | "", onProgress: (n: number) => void): Promise<RecipientRow[]> {
  const q = (cursor: string | undefined) => ({ params: { path: { send_id: sendId }, query: { limit: 200, cursor, ...(status ? { status } : {}) } } });
  return kind === "gift"
    ? listAll((c) => api.GET("/gift-sends/{send_id}/recipients", q(c)), onProgress)
    : listAll((c) => api.GET("/notification-sends/{send_id}/recipients", q(c)), onProgress);
}

/** Resends the failed recipients (a notification send by channel); the count resent. */
export async function resendFailed(api: ApiClient, kind: SendKind, sendId: string, channel: Schemas["NotificationResendRequest"]["channel"] | null): Promise<number> {
  const path = { send_id: sendId };
  const r = kind === "gift"
    ? await ok(api.POST("/gift-sends/{send_id}/resend", { params: { path } }))
    : await ok(api.POST("/notification-sends/{send_id}/resend", { params: { path }, body: channel ? { channel } : {} }));
  return r.resent;
}

export function resendOne(api: ApiClient, kind: SendKind, sendId: string, recipientId: string) {
  const params = { path: { send_id: sendId, recipient_id: recipientId } };
  return kind === "gift"
    ? ok(api.POST("/gift-sends/{send_id}/recipients/{recipient_id}/resend", { params }))
    : ok(api.POST("/notification-sends/{send_id}/recipients/{recipient_id}/resend", { params }));
}

export function submitDraft(api: ApiClient, kind: SendKind, sendId: string) {
  const params = { path: { send_id: sendId } };
  return kind === "gift" ? ok(api.POST("/gift-sends/{send_id}/submit", { params })) : ok(api.POST("/notification-sends/{send_id}/submit", { params }));
}

export function cancelSend(api: ApiClient, kind: SendKind, sendId: string) {
  const params = { path: { send_id: sendId } };
  return kind === "gift" ? ok(api.POST("/gift-sends/{send_id}/cancel", { params })) : ok(api.POST("/notification-sends/{send_id}/cancel", { params }));
}
