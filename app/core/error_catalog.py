"""Every error `code` the API answers, once: its HTTP status, title, what it means and what the
caller should do. Domain errors take their status and title from here (`DomainError`), the docs
render it (`/api/v1/docs/errors`), the OpenAPI documents list it per operation, and a test fails
when code raises a code that is not here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    title: str
    meaning: str
    action: str
    area: str


# fmt: off
_ENTRIES = (
    # --- requests -------------------------------------------------------------------------
    ErrorCode(
        "bad_request", 400, "Bad request",
        "The request cannot be read as sent.", "Fix the request; `detail` says what is wrong.",
        "requests",
    ),
    ErrorCode(
        "malformed_json", 400, "Malformed JSON",
        "The body is not valid JSON.", "Send a JSON body with `Content-Type: application/json`.",
        "requests",
    ),
    ErrorCode(
        "json_too_deep", 400, "JSON nested too deep",
        "Arrays and objects in the body nest deeper than the API accepts.",
        "Flatten the body; no API field nests that deep.",
        "requests",
    ),
    ErrorCode(
        "validation_error", 422, "Validation failed",
        "One or more fields are missing, unknown or invalid (an unknown enum value included).",
        "Read `errors` (field → messages), fix those fields and send again.",
        "requests",
    ),
    ErrorCode(
        "not_found", 404, "Not found",
        "No such resource for this partner (another partner's id answers the same).",
        "Check the id; ids are prefixed by kind (`ord_`, `ent_`, …).",
        "requests",
    ),
    ErrorCode(
        "method_not_allowed", 405, "Method not allowed",
        "The path exists but not with this HTTP method.", "Use a method the `Allow` header lists.",
        "requests",
    ),
    ErrorCode(
        "not_acceptable", 406, "Not acceptable",
        "No representation matches the `Accept` header.",
        "Accept `application/json` (or a format the operation documents).",
        "requests",
    ),
    ErrorCode(
        "conflict", 409, "Conflict",
        "The change conflicts with the resource's current state.",
        "Read the resource again and decide whether the change still applies.",
        "requests",
    ),
    ErrorCode(
        "already_exists", 409, "Already exists",
        "Another record already has these unique values.",
        "Read the existing record instead of creating another.",
        "requests",
    ),
    ErrorCode(
        "payload_too_large", 413, "Payload too large",
        "The body (or an uploaded file) is larger than the operation accepts.",
        "Send less: split the upload into several.",
        "requests",
    ),
    ErrorCode(
        "unsupported_media_type", 415, "Unsupported media type",
        "The body's `Content-Type` is not one the operation reads.",
        "Send `application/json` (or `multipart/form-data` for uploads).",
        "requests",
    ),
    ErrorCode(
        "rate_limited", 429, "Too many requests",
        "This client sent more requests than its rate limit allows.",
        "Wait for `Retry-After` seconds, then retry; spread requests out.",
        "requests",
    ),
    ErrorCode(
        "http_error", 400, "HTTP error",
        "An HTTP-level refusal with no more specific code.", "Read `status` and `detail`.",
        "requests",
    ),
    # --- availability ---------------------------------------------------------------------
    ErrorCode(
        "internal_error", 500, "Internal error",
        "A fault on our side; it is logged with the `request_id`.",
        "Retry later with the same `Idempotency-Key`; quote `request_id` to support.",
        "availability",
    ),
    ErrorCode(
        "retry", 503, "Try again",
        "The request lost a race with another one and nothing was written.",
        "Retry after `Retry-After` seconds (with the same `Idempotency-Key`).",
        "availability",
    ),
    ErrorCode(
        "transaction_failed", 503, "Try again",
        "The change could not be saved; nothing was written.",
        "Retry the request (with the same `Idempotency-Key`).",
        "availability",
    ),
    ErrorCode(
        "dependency_down", 503, "Service unavailable",
        "A service the API needs (database, Redis) is unreachable; nothing was written.",
        "Retry after `Retry-After` seconds.",
        "availability",
    ),
    ErrorCode(
        "service_unavailable", 503, "Service unavailable",
        "The API is not serving right now.", "Retry after `Retry-After` seconds.",
        "availability",
    ),
    # --- authentication (RFC 6749 / 6750 names) --------------------------------------------
    ErrorCode(
        "unauthorized", 401, "Unauthorized",
        "The request carries no access token.",
        "Get a token from `POST /oauth/token` and send `Authorization: Bearer <token>`.",
        "authentication",
    ),
    ErrorCode(
        "forbidden", 403, "Forbidden",
        "The principal may not do this.", "Check which permission the operation lists.",
        "authentication",
    ),
    ErrorCode(
        "invalid_token", 401, "Unauthorized",
        "The access token is unknown, expired or revoked.",
        "Get a new token (cache tokens until shortly before `expires_in`).",
        "authentication",
    ),
    ErrorCode(
        "insufficient_scope", 403, "Forbidden",
        "The token (or staff role) lacks the permission this operation needs.",
        "Ask for the scope the operation lists when requesting the token.",
        "authentication",
    ),
    ErrorCode(
        "invalid_request", 400, "Invalid request",
        "The token request is malformed (e.g. credentials in the query string).",
        "Send `grant_type` and credentials in the form body or HTTP Basic.",
        "authentication",
    ),
    ErrorCode(
        "invalid_client", 401, "Invalid client",
        "Client authentication failed: unknown client, wrong or rotated secret.",
        "Check the client id and secret; repeated failures lock the client out for a while.",
        "authentication",
    ),
    ErrorCode(
        "invalid_grant", 400, "Invalid grant",
        "The grant is invalid or expired.", "Use `grant_type=client_credentials`.",
        "authentication",
    ),
    ErrorCode(
        "unauthorized_client", 400, "Unauthorized client",
        "This client may not use the requested grant type.",
        "Use `client_credentials`, the only grant partner clients hold.",
        "authentication",
    ),
    ErrorCode(
        "unsupported_grant_type", 400, "Unsupported grant type",
        "The grant type is not supported.", "Use `grant_type=client_credentials`.",
        "authentication",
    ),
    ErrorCode(
        "invalid_scope", 400, "Invalid scope",
        "A requested scope is unknown or not granted to this client.",
        "Request only scopes the client holds, or leave `scope` out to get them all.",
        "authentication",
    ),
    ErrorCode(
        "unsupported_token_type", 400, "Unsupported token type",
        "The token type hint names a type this server does not issue.",
        "Send `token_type_hint=access_token`, or no hint.",
        "authentication",
    ),
    ErrorCode(
        "access_denied", 400, "Access denied",
        "The authorization server refused the request.", "Check the client's status.",
        "authentication",
    ),
    ErrorCode(
        "insecure_transport", 400, "Insecure transport",
        "OAuth requests must use HTTPS.", "Call the API over HTTPS.",
        "authentication",
    ),
    ErrorCode(
        "too_many_failures", 429, "Too many failed authentications",
        "Too many failed client authentications from this client id or address.",
        "Wait for `Retry-After` seconds; then authenticate with the right secret.",
        "authentication",
    ),
    ErrorCode(
        "sign_in_locked", 429, "Too many sign-in attempts",
        "Staff sign-in for this email or address failed too often; it is refused for a while.",
        "Wait for `Retry-After` seconds, then sign in with the right password or code.",
        "authentication",
    ),
    ErrorCode(
        "partner_required", 403, "Partner client required",
        "The operation acts for a partner, and this token is the platform's.",
        "Call it with a partner client's token.",
        "authentication",
    ),
    ErrorCode(
        "partner_suspended", 403, "Partner suspended",
        "The partner is suspended: no tokens, orders or deliveries until it is active again.",
        "Contact the platform.",
        "authentication",
    ),
    # --- idempotency ----------------------------------------------------------------------
    ErrorCode(
        "idempotency_key_required", 400, "Idempotency-Key required",
        "This operation creates something and needs an `Idempotency-Key` header.",
        "Send a unique key (e.g. a UUID) per intended operation; reuse it on retries.",
        "idempotency",
    ),
    ErrorCode(
        "idempotency_key_reused", 422, "Idempotency-Key reused",
        "The key was already used, within 24 hours, for a different request.",
        "Use a new key for a new operation; retries must send the identical request.",
        "idempotency",
    ),
    ErrorCode(
        "idempotency_in_progress", 409, "Request in progress",
        "A request with this key is still running, or has just completed.",
        "Retry shortly with the same key: you get the first request's answer.",
        "idempotency",
    ),
    # --- orders ---------------------------------------------------------------------------
    ErrorCode(
        "listing_not_found", 404, "Listing not found",
        "The listing does not exist, is not active or is not sold to this partner.",
        "Read the catalog again; `field` names the order line.",
        "orders",
    ),
    ErrorCode(
        "price_changed", 409, "Price changed",
        "The total differs from `expected_total`: a price changed since the client read it.",
        "Show the member `current_total` and order again with it.",
        "orders",
    ),
    ErrorCode(
        "payment_mismatch", 422, "Payment does not match the total",
        "The payment does not equal the order's total (points, cash, currency or reference).",
        "Pay exactly `current_total`; a cash part needs `cash_payment_ref`.",
        "orders",
    ),
    ErrorCode(
        "invalid_recharge_account", 422, "Invalid recharge account",
        "The recharge account does not fit the product (`account_kind` says what it needs).",
        "Ask the member for a valid account; `field` names the order line.",
        "orders",
    ),
    ErrorCode(
        "order_denied", 422, "Order refused by a risk rule",
        "A risk rule refused the order; nothing was charged.",
        "Do not retry unchanged; `reasons` says which rules refused.",
        "orders",
    ),
    ErrorCode(
        "client_reference_used", 409, "Client reference already used",
        "Another order of this partner already has this `client_reference` (kept forever).",
        "Read the order `order_id` names; a new order needs a new reference.",
        "orders",
    ),
    ErrorCode(
        "order_not_cancellable", 409, "Nothing left to cancel",
        "Every unit of the order is delivered, failed or already cancelled.",
        "Read the order; delivered units are after-sales cases, not cancellations.",
        "orders",
    ),
    ErrorCode(
        "quota_exceeded", 422, "Quota exceeded",
        "A quota of the partner or member (units per day, spend per month…) would be exceeded.",
        "Try again in the next period, or ask the platform to raise the quota.",
        "orders",
    ),
    ErrorCode(
        "out_of_stock", 409, "Out of stock",
        "Not enough sellable stock (card keys or recharge capacity) for the order.",
        "Show the listing as sold out; the catalog's `availability` says when it returns.",
        "orders",
    ),
    ErrorCode(
        "insufficient_partner_balance", 402, "Insufficient partner balance",
        "The partner's prepaid account (with its credit limit) cannot pay the wholesale price.",
        "Top up the partner account; nothing was written.",
        "orders",
    ),
    # --- members and entitlements ---------------------------------------------------------
    ErrorCode(
        "member_not_found", 404, "Member not found",
        "No member with this `external_id` for this partner.",
        "Create it first with `PUT /api/v1/members/{external_id}`.",
        "members",
    ),
    ErrorCode(
        "member_blocked", 403, "Member blocked",
        "The member is blocked and cannot order or spend points.", "Unblock the member first.",
        "members",
    ),
    ErrorCode(
        "insufficient_points", 422, "Insufficient points",
        "The member has fewer usable (unexpired) points than the operation needs.",
        "Read the member's balance; grant points or ask for less.",
        "members",
    ),
    ErrorCode(
        "points_balance_limit", 422, "Points balance limit",
        "The grant would take the balance above the largest balance allowed.",
        "Grant less.",
        "members",
    ),
    ErrorCode(
        "points_service_unavailable", 503, "Points service unavailable",
        "The partner keeps its members' points in its own ledger and its points service did"
        " not confirm the deduction (or is not configured). No order was placed; a deduction"
        " the service did make is refunded to it automatically.",
        "Retry with the same request after a minute; check the points service.",
        "members",
    ),
    ErrorCode(
        "points_kept_by_partner", 409, "Points kept by the partner",
        "This partner keeps its members' points in its own ledger (points source `external`):"
        " they are granted and deducted there, not through this API.",
        "Move the points in your own ledger; orders deduct them through your points service.",
        "members",
    ),
    ErrorCode(
        "nothing_to_reveal", 409, "Nothing to reveal",
        "The entitlement has no code (a direct recharge) or is not active.",
        "Show its status or receipt instead.",
        "members",
    ),
    # --- webhooks -------------------------------------------------------------------------
    ErrorCode(
        "payment_page_missing", 409, "No payment page",
        "The price has a cash part and the partner has no payment page for the mall.",
        "Redeem it in the partner's app, or configure the payment page.",
        "mall",
    ),
    ErrorCode(
        "payment_refused", 400, "Payment result refused",
        "The payment result is not signed by the partner, has expired, or names another amount.",
        "Pay again from the product page.",
        "mall",
    ),
    ErrorCode(
        "jwks_unavailable", 422, "JWKS unavailable",
        "The JWKS URL did not answer 200 with a JSON key set (at most 64 KB, within 3 s,"
        " no redirect).",
        "Check that the URL serves your key set publicly; nothing was changed.",
        "mall",
    ),
    ErrorCode(
        "webhook_url_not_allowed", 422, "Webhook URL not allowed",
        "The URL is not https, or points to a private or loopback address.",
        "Register a public https URL.",
        "webhooks",
    ),
    ErrorCode(
        "webhook_endpoint_limit", 409, "Too many webhook endpoints",
        "The partner already has as many endpoints as allowed.",
        "Delete an endpoint you no longer use.",
        "webhooks",
    ),
    # --- supply and billing (operator API) ------------------------------------------------
    ErrorCode(
        "supply_conflict", 409, "Conflicting supply change",
        "The change conflicts with supply already in use (stock, allocations, offers).",
        "Read the current state; `detail` says what holds it.",
        "operator",
    ),
    ErrorCode(
        "code_import_rejected", 422, "Code import rejected",
        "Some lines of the card-key file are invalid or duplicates; nothing was imported.",
        "Fix every line `lines` names and upload the whole file again.",
        "operator",
    ),
    ErrorCode(
        "supplier_credentials_missing", 422, "Supplier has no credentials",
        "A direct-recharge offer needs a supplier with API credentials.",
        "Set the supplier's credentials first.",
        "operator",
    ),
    ErrorCode(
        "self_approval", 409, "Approval by someone else",
        "Under maker–checker, the staff member who asked for a change cannot approve it.",
        "Ask another staff member with the same permission to approve it.",
        "members",
    ),
    ErrorCode(
        "adjustment_decided", 409, "Adjustment decided already",
        "The points adjustment was applied or rejected already; it is never applied twice.",
        "Read the member's ledger; ask for a new adjustment if one is still needed.",
        "members",
    ),
    ErrorCode(
        "grant_batch_not_ready", 409, "Grant batch not ready",
        "The bulk grant is invalid, applied, queued or rejected: it cannot be applied now.",
        "Read the batch's status; upload a fixed file for an invalid one.",
        "members",
    ),
    ErrorCode(
        "unit_not_delivered", 409, "Unit not delivered",
        "After-sales cases are about delivered units; this one is pending, failed or cancelled.",
        "Wait for the delivery, or cancel the order's unsent units.",
        "orders",
    ),
    ErrorCode(
        "case_already_open", 409, "A case is open for this unit",
        "The unit has an open after-sales case; its id is in `case_id`.",
        "Follow that case instead of opening another.",
        "orders",
    ),
    ErrorCode(
        "case_closed", 409, "Case resolved already",
        "The case was resolved; it is not resolved twice.",
        "Open a new case if the problem is a new one.",
        "orders",
    ),
    ErrorCode(
        "unit_already_remedied", 409, "Unit already reissued or refunded",
        "Another case already reissued or refunded this unit (`case_id`); a unit is remedied once.",
        "Resolve this case as rejected, with a note pointing to the other case.",
        "orders",
    ),
    ErrorCode(
        "sandbox_of_sandbox", 409, "A sandbox has no sandbox",
        "Sandboxes are provisioned for live partners; this partner is a sandbox already.",
        "Provision the sandbox of the live partner it is the twin of (`sandbox_of_id`).",
        "operator",
    ),
    ErrorCode(
        "launch_refused", 401, "Launch link used or expired",
        "A mall launch link works once, within a minute of being issued, for its own partner.",
        "Ask the partner's backend for a new launch (POST /api/v1/members/{id}/launch).",
        "mall",
    ),
    ErrorCode(
        "top_up_already_decided", 409, "The top-up request was decided already",
        "A top-up request is credited or rejected once; another operator decided this one.",
        "Reload the request to see its decision.",
        "operator",
    ),
    ErrorCode(
        "sandbox_not_billed", 409, "Sandbox partners are not billed",
        "A sandbox partner's orders are test data: they never appear on an invoice.",
        "Invoice the live partner instead.",
        "operator",
    ),
    ErrorCode(
        "invoice_period_open", 409, "The invoice period has not ended",
        "An invoice can be issued only after its month has ended.",
        "Issue it after the month's end.",
        "operator",
    ),
    ErrorCode(
        "invoice_state_conflict", 409, "Not possible in the invoice's state",
        "The invoice's state does not allow this (e.g. paying a void invoice).",
        "Read the invoice's `status`.",
        "operator",
    ),
    ErrorCode(
        "invoice_immutable", 409, "Invoice is immutable",
        "An issued invoice never changes.", "Correct it with a credit note.",
        "operator",
    ),
)
# fmt: on

CATALOG: dict[str, ErrorCode] = {entry.code: entry for entry in _ENTRIES}
AREAS = tuple(dict.fromkeys(entry.area for entry in _ENTRIES))
