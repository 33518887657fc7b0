export { ApiError, createApi, listAll, newIdempotencyKey, ok, type ApiClient, type Schemas } from "./client";
