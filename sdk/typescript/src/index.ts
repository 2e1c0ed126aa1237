export { AgentGateClient, VERSION } from "./client.js";
export type { ClientOptions } from "./client.js";
export {
  AgentGateError,
  ApprovalDeniedError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  UnauthorizedError,
  WaitTimeoutError,
} from "./errors.js";
export type { ErrorCode } from "./errors.js";
export {
  DEFAULT_WEBHOOK_TOLERANCE_MS,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  signWebhook,
  verifyWebhook,
  verifyWebhookTimestamp,
} from "./webhook.js";
export type * from "./types.js";
