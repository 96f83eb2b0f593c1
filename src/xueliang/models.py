"""Imports every domain's tables so Alembic and `create_all` see one complete metadata."""

from xueliang.accounts.models import AuthSession, User
from xueliang.alarms.models import (
    Alarm,
    AlarmDevice,
    AlarmEvent,
    AlarmPress,
    GuardAssignment,
    GuardPoint,
    Mobilization,
    MobilizationTask,
    StationConfig,
)
from xueliang.audit.models import AuditEvent
from xueliang.cameras.models import Camera
from xueliang.core.db import Base
from xueliang.core.timers import Timer
from xueliang.grid.models import (
    CarePerson,
    CheckIn,
    Checkpoint,
    GridNotice,
    GridTask,
    Incident,
    IncidentEvent,
    IncidentPhoto,
    OkAnswer,
    PatrolRoute,
    PatrolTour,
    RouteRun,
    TourMark,
    TourRun,
    Visit,
)
from xueliang.nodes.models import Node
from xueliang.recordings.models import EvidenceLock, RecordingExport, RecordingGap, RecordingSegment
from xueliang.regions.models import Household, Place, Region

__all__ = [
    "Alarm",
    "AlarmDevice",
    "AlarmEvent",
    "AlarmPress",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Camera",
    "CarePerson",
    "CheckIn",
    "Checkpoint",
    "EvidenceLock",
    "GridNotice",
    "GridTask",
    "GuardAssignment",
    "GuardPoint",
    "Household",
    "Incident",
    "IncidentEvent",
    "IncidentPhoto",
    "Mobilization",
    "MobilizationTask",
    "Node",
    "OkAnswer",
    "PatrolRoute",
    "PatrolTour",
    "Place",
    "RecordingExport",
    "RecordingGap",
    "RecordingSegment",
    "Region",
    "RouteRun",
    "StationConfig",
    "Timer",
    "TourMark",
    "TourRun",
    "User",
    "Visit",
]
