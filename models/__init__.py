"""opsgate's schema: SQLAlchemy 2.x typed models. Imports nothing of ours outside this package."""
from .attachment import Attachment
from .audit import AuditChain, AuditEvent
from .base import Base
from .case import Case, CaseCounter
from .delegation import Delegation
from .descriptive import DescriptiveModel
from .evaluation import (
    CaseFact,
    CaseFactMonth,
    CaseFactState,
    CaseFactTarget,
    EvaluationConfigVersion,
    EvaluationInput,
    EvaluationScorecard,
    MeasureRole,
)
from .external_task import ExternalTask
from .integration import WebhookDelivery, WebhookSubscription, WorkerHeartbeat
from .message import EventWait, MessageReceipt
from .notification import Notification
from .process import ProcessDefinition
from .provider import Provider, ProviderSystem
from .setting import Setting
from .task import HumanTask, HumanTaskBar, HumanTaskGroup, Timer
from .user import ApiToken, Group, LoginThrottle, User, user_group

__all__ = [
    "ApiToken", "Attachment", "AuditChain", "AuditEvent", "Base", "Case", "CaseCounter", "CaseFact",
    "CaseFactMonth", "CaseFactState", "CaseFactTarget",
    "Delegation", "DescriptiveModel", "EvaluationConfigVersion", "EvaluationInput", "EvaluationScorecard", "EventWait",
    "ExternalTask",
    "Group", "HumanTask", "HumanTaskBar", "HumanTaskGroup", "LoginThrottle", "MeasureRole", "MessageReceipt", "Notification",
    "ProcessDefinition", "Provider", "ProviderSystem", "Setting", "Timer", "User", "WebhookDelivery",
    "WebhookSubscription", "WorkerHeartbeat", "user_group",
]
