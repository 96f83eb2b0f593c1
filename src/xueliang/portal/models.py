"""Portal tables: the department directory, government services (办事指南), job postings, produce
prices with their subscriptions and the notices these produce, area notices with read receipts, and
which departments a portal editor may change.

Prices are stored in fen (integers) so sums and comparisons are exact on both backends. A notice
keeps its target region's path, so "notices for me" is an IN over the caller's ancestors' paths."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class PortalDepartment(Base):
    __tablename__ = "portal_departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    phones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    address: Mapped[str] = mapped_column(String(200), default="")
    hours: Mapped[str] = mapped_column(String(200), default="")
    duties: Mapped[str] = mapped_column(Text, default="")
    duties_en: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # content sweep


class PortalService(Base):
    """One government service with the standard 办事指南 elements."""

    __tablename__ = "portal_services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("portal_departments.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[str] = mapped_column(Text, default="")
    materials: Mapped[list[Any]] = mapped_column(JSON, default=list)
    where: Mapped[str] = mapped_column(String(300), default="")
    when: Mapped[str] = mapped_column(String(200), default="")
    time_limit: Mapped[str] = mapped_column(String(100), default="")
    fees: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    published: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # content sweep


class PortalJob(Base):
    """A job posting, with the schema.org JobPosting fields."""

    __tablename__ = "portal_jobs"
    __table_args__ = (Index("ix_portal_jobs_city_valid", "city", "valid_through"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("portal_departments.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    employer: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(64))
    job_type: Mapped[str] = mapped_column(String(16), default="FULL_TIME")
    salary_min: Mapped[int | None] = mapped_column(Integer)
    salary_max: Mapped[int | None] = mapped_column(Integer)
    salary_unit: Mapped[str] = mapped_column(String(8), default="MONTH")
    work_hours: Mapped[str] = mapped_column(String(200), default="")
    requirements: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    date_posted: Mapped[date] = mapped_column(Date)
    valid_through: Mapped[datetime] = mapped_column(UtcDateTime)
    published: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # content sweep


class PortalProduct(Base):
    __tablename__ = "portal_products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16), default="vegetable")  # vegetable | fruit
    unit: Mapped[str] = mapped_column(String(16), default="斤")


class PortalMarket(Base):
    __tablename__ = "portal_markets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")


class PortalPrice(Base):
    """The price of one product at one market on one day (a correction overwrites the day's row)."""

    __tablename__ = "portal_prices"
    __table_args__ = (
        UniqueConstraint("product_id", "market_id", "day", name="uq_portal_prices_product_market_day"),
        Index("ix_portal_prices_day", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("portal_products.id", ondelete="CASCADE"))
    market_id: Mapped[int] = mapped_column(ForeignKey("portal_markets.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    price_fen: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # content sweep


class PriceSubscription(Base):
    """A user's wish to hear of a product's prices; `market_id` None means every market."""

    __tablename__ = "portal_price_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", "market_id", name="uq_portal_price_subscriptions_user"),
        Index("ix_portal_price_subscriptions_product", "product_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("portal_products.id", ondelete="CASCADE"))
    market_id: Mapped[int | None] = mapped_column(ForeignKey("portal_markets.id", ondelete="CASCADE"))
    threshold_percent: Mapped[float | None] = mapped_column(Float)
    above_fen: Mapped[int | None] = mapped_column(Integer)
    below_fen: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PriceAlert(Base):
    """A notice a subscription produced when a price was published (shown on the TV banner, phone)."""

    __tablename__ = "portal_price_alerts"
    __table_args__ = (Index("ix_portal_price_alerts_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("portal_price_subscriptions.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("portal_products.id", ondelete="CASCADE"))
    market_id: Mapped[int] = mapped_column(ForeignKey("portal_markets.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    price_fen: Mapped[int] = mapped_column(Integer)
    previous_fen: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PortalNotice(Base):
    """A notice published to a region's subtree; urgent ones interrupt the TV until acknowledged."""

    __tablename__ = "portal_notices"
    __table_args__ = (Index("ix_portal_notices_path_published", "region_path", "published_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    region_path: Mapped[str] = mapped_column(String(255))
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    publisher: Mapped[str] = mapped_column(String(100))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class NoticeRead(Base):
    """A read receipt: one per notice and user, with the household the user speaks for."""

    __tablename__ = "portal_notice_reads"
    __table_args__ = (UniqueConstraint("notice_id", "user_id", name="uq_portal_notice_reads_notice_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("portal_notices.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EditorScope(Base):
    """What a portal editor may change: one row per department, or one row with no department for the
    whole county. An editor without rows changes nothing."""

    __tablename__ = "portal_editor_scopes"
    __table_args__ = (UniqueConstraint("user_id", "department_id", name="uq_portal_editor_scopes_user_dept"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("portal_departments.id", ondelete="CASCADE"))


class UpstreamCopy(Base):
    """A row of county content (a department, service, job, product or market) that a node above this
    one published and this node keeps as a copy (federation, issue 18): its owner edits it, edits here
    are refused. Content without a row here is this node's own."""

    __tablename__ = "portal_upstream"
    __table_args__ = (
        UniqueConstraint("kind", "local_id", name="uq_portal_upstream_local"),
        UniqueConstraint("kind", "owner", "remote_id", name="uq_portal_upstream_remote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # department | service | job | product | market
    local_id: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(20))  # the publishing node's GB ID
    remote_id: Mapped[int] = mapped_column(Integer)  # its id at the owner
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
