"""Domain errors. Services raise these; services/api/errors.py maps them to HTTP in one place."""

from __future__ import annotations


class StewardError(Exception):
    """Base of every error a user may see: a stable machine code and a readable message."""

    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(StewardError):
    code = "not_authenticated"


class InvalidToken(NotAuthenticated):
    """A widget's user token or a single sign-on token that does not verify: bad signature, wrong audience,
    expired, or too long-lived."""

    code = "invalid_token"


class IdentityProviderUnavailable(StewardError):
    """The single sign-on provider cannot be reached and no cached keys can check the token; retry later."""

    code = "identity_provider_unavailable"
    retry_after_s = 10


class SsoNotConfigured(StewardError):
    """Single sign-on routes on a server that has no OpenID provider configured."""

    code = "sso_not_configured"


class PermissionDenied(StewardError):
    code = "permission_denied"


class OriginNotAllowed(PermissionDenied):
    """A widget request from a page whose origin the site does not list."""

    code = "origin_not_allowed"


class CsrfRejected(PermissionDenied):
    """A state-changing request on a console session without the session's CSRF token."""

    code = "csrf_rejected"


class DocumentNotFound(StewardError):
    code = "document_not_found"


class ConversationNotFound(StewardError):
    code = "conversation_not_found"


class PrincipalNotFound(StewardError):
    code = "principal_not_found"


class GroupNotFound(StewardError):
    code = "group_not_found"


class MembershipNotFound(StewardError):
    code = "membership_not_found"


class KeyNotFound(StewardError):
    code = "key_not_found"


class SiteNotFound(StewardError):
    code = "site_not_found"


class MessageNotFound(StewardError):
    code = "message_not_found"


class TooManyFailedLogins(StewardError):
    """A client sent too many invalid keys; it is refused without a look at its key until `retry_after_s`."""

    code = "too_many_failed_authentications"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuditChainBroken(StewardError):
    """The audit hash chain does not verify (or its head is gone); nothing that would hide that may proceed."""

    code = "audit_chain_broken"


class UnsupportedFormat(StewardError):
    """The file type is not one Steward can parse."""

    code = "unsupported_media_type"


class PayloadTooLarge(StewardError):
    code = "payload_too_large"


class InvalidInput(StewardError):
    code = "invalid_input"


class UnsupportedParameter(InvalidInput):
    """A request parameter Steward cannot honour (the OpenAI-compatible endpoint); `param` names it."""

    code = "unsupported_parameter"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class ModelNotFound(StewardError):
    """No assistant has this model id (the OpenAI-compatible endpoint)."""

    code = "model_not_found"
    param = "model"


class GenerationNotFound(StewardError):
    """No index generation (or tuned encoder version) by this id, or none to roll back to."""

    code = "generation_not_found"


class Conflict(StewardError):
    """The request is valid but the resource is not in a state that allows it."""

    code = "conflict"


class CorruptDocument(StewardError):
    """The file claims a supported type but cannot be read; the reason is shown on the document."""

    code = "corrupt_document"


class EmptyDocument(StewardError):
    code = "empty_document"


class PolicyViolation(StewardError):
    code = "policy_violation"


class LLMUnavailable(StewardError):
    """vLLM cannot answer now; `kind` says why (connect, first_token_timeout, total_timeout, ...)."""

    code = "llm_unavailable"

    def __init__(self, message: str, retry_after_s: int = 10, kind: str = "unavailable") -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.kind = kind


class LLMRejected(StewardError):
    """vLLM refused the request itself (a bug on our side: budgeting should prevent it)."""

    code = "llm_rejected_request"


class Overloaded(StewardError):
    """Shed to protect the model server; the client should come back after `retry_after_s`."""

    code = "overloaded"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QuotaExceeded(StewardError):
    """A budget of the caller (user, group, API key or origin) is spent until `reset_at` (epoch seconds)."""

    code = "quota_exceeded"

    def __init__(self, message: str, retry_after_s: int, reset_at: int, rule_id: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.reset_at = reset_at
        self.rule_id = rule_id


class QuotaUnavailable(StewardError):
    """The quota store cannot be read and quotas are configured to fail closed."""

    code = "quota_unavailable"
    retry_after_s = 10


class QueueUnavailable(StewardError):
    """The ingestion queue cannot take the job; nothing was kept, so the client can simply retry."""

    code = "queue_unavailable"
    retry_after_s = 10


class DatabaseUnavailable(StewardError):
    """The database dropped the connection or refused the write (restarting, failing over, or its disk is full
    or read-only); the transaction was rolled back, so the client can simply retry."""

    code = "database_unavailable"
    retry_after_s = 5


class EmbedderUnavailable(StewardError):
    """An encoder replica died mid-pass (killed, out of memory); it is starting again, so the client can retry."""

    code = "embedder_unavailable"
    retry_after_s = 5


class StorageUnavailable(StewardError):
    """The data folder cannot be written (disk full, quota reached, mounted read-only); nothing was kept."""

    code = "storage_unavailable"
    retry_after_s = 30


class ConfigurationError(StewardError):
    code = "configuration_error"


class EncryptedDocument(CorruptDocument):
    """The file is protected by a password, so Steward cannot read its text."""

    code = "encrypted_document"


class DocumentTooLarge(CorruptDocument):
    """The file exceeds a parsing limit (pages, cells, unpacked size); the message names the limit."""

    code = "document_too_large"


class BackupError(StewardError):
    """A backup could not be written, or an archive cannot be restored; the message says what to do."""

    code = "backup_error"
