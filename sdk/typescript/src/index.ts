export { AgentGateClient, VERSION } from "./client.js";
export type { ClientOptions } from "./client.js";
export {
  AgentGateError,
  ApprovalDeniedError,
  ApprovalEditedError,
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
export { actionParams, paramsEdited } from "./params.js";
export {
  DEFAULT_WEBHOOK_TOLERANCE_MS,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  signWebhook,
  verifyWebhook,
  verifyWebhookTimestamp,
} from "./webhook.js";
export type * from "./types.js";
