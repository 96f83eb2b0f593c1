"""Imports every domain's tables so Alembic and `create_all` see one complete metadata."""

from xueliang.accounts.models import AuthSession, User
from xueliang.audit.models import AuditEvent
from xueliang.cameras.models import Camera
from xueliang.core.db import Base
from xueliang.regions.models import Household, Node, Place, Region

__all__ = ["AuditEvent", "AuthSession", "Base", "Camera", "Household", "Node", "Place", "Region", "User"]
