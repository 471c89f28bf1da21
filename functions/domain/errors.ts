/** One problem with one input field, as shown in the error envelope's `details`. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * Base of every error a caller may see. Each subclass carries its own machine code and HTTP
 * status; the HTTP adapter maps them in one place with `instanceof`.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  readonly details: FieldIssue[];

  constructor(message: string, details: FieldIssue[] = []) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** The auth scheme a 401's `WWW-Authenticate` challenge names. */
export type AuthScheme = 'Bearer' | 'X-Telegram-Bot-Api-Secret-Token';

/**
 * No token, or a token the service does not know. The default message tells the caller what to
 * do: the service runs no OAuth flow, so the only cure is the bearer token its operator issued.
 */
export class AuthenticationRequiredError extends AppError {
  readonly code = 'AUTHENTICATION_REQUIRED';
  readonly status = 401;
  constructor(
    message = 'Send the bearer token you were given, as "Authorization: Bearer <token>". Tokens are issued by the operator of this service (admin CLI); there is no OAuth authorization server to get one from.',
    readonly scheme: AuthScheme = 'Bearer',
  ) {
    super(message);
  }
}

/** The token is valid but lacks the ability the operation needs. */
export class TokenMissingAbilityError extends AppError {
  readonly code = 'TOKEN_MISSING_ABILITY';
  readonly status = 403;
  constructor(readonly ability: string) {
    super(`This token lacks the ability "${ability}".`);
  }
}

/** The request is well-formed HTTP but its content is not acceptable. */
export class ValidationFailedError extends AppError {
  readonly code = 'VALIDATION_FAILED';
  readonly status = 422;
  constructor(details: FieldIssue[], message = 'The request is not valid.') {
    super(message, details);
  }
}

/** The request itself is malformed HTTP (e.g. a badly percent-encoded path): nothing route-specific was read. */
export class BadRequestError extends AppError {
  readonly code = 'BAD_REQUEST';
  readonly status = 400;
}

/** The path exists but not with this method; `allow` lists the methods it has (the `Allow` header). */
export class MethodNotAllowedError extends AppError {
  readonly code = 'METHOD_NOT_ALLOWED';
  readonly status = 405;
  constructor(method: string, path: string, readonly allow: readonly string[]) {
    super(`${path} does not accept ${method}; it accepts ${allow.join(', ')}.`);
  }
}

/** The body is larger than the front door accepts. */
export class PayloadTooLargeError extends AppError {
  readonly code = 'PAYLOAD_TOO_LARGE';
  readonly status = 413;
  constructor(maxBytes: number) {
    super(`The request body must be at most ${maxBytes} bytes.`);
  }
}

/** The body declares a media type other than JSON. */
export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  readonly status = 415;
  constructor(contentType: string) {
    super(`The request body must be JSON (Content-Type: application/json), not ${contentType}.`);
  }
}

/** The resource does not exist, or exists outside the caller's team (never revealed). */
export class ResourceNotFoundError extends AppError {
  readonly code = 'RESOURCE_NOT_FOUND';
  readonly status = 404;
  constructor(resource: string, id?: string) {
    super(id === undefined ? `${resource} not found.` : `${resource} ${id} not found.`);
  }
}

/** The access code was redeemed before. */
export class CodeAlreadyRedeemedError extends AppError {
  readonly code = 'CODE_ALREADY_REDEEMED';
  readonly status = 409;
  constructor() {
    super('This access code has already been redeemed.');
  }
}

/** The access code is past its expiry. */
export class CodeExpiredError extends AppError {
  readonly code = 'CODE_EXPIRED';
  readonly status = 410;
  constructor() {
    super('This access code has expired.');
  }
}

/** An Idempotency-Key was reused with a different request. */
export class IdempotencyKeyReusedError extends AppError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  readonly status = 409;
  constructor() {
    super('This Idempotency-Key was already used with a different request.');
  }
}

/** Telegram refused for good (bot blocked, chat not found): retrying cannot help. */
export class DeliveryRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`Telegram refused the delivery: ${reason}`);
    this.name = 'DeliveryRefusedError';
  }
}

/** Telegram asked us to slow down; try again after `retryAfterSeconds`. */
export class DeliveryThrottledError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`Telegram throttled the delivery; retry after ${retryAfterSeconds} s`);
    this.name = 'DeliveryThrottledError';
  }
}
