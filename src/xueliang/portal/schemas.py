"""API types of the portal (docs/portal-api.md). Inputs are bounded to what the columns hold, so bad
input is a 422 naming the field, never a driver error."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from xueliang.core.bounds import DbId, StoredDatetime

T = TypeVar("T")

CATEGORIES: dict[str, tuple[str, str]] = {
    "birth": ("生育收养", "Birth and adoption"),
    "schooling": ("教育入学", "Schooling"),
    "marriage": ("婚姻登记", "Marriage"),
    "housing": ("住房建房", "Housing"),
    "farming": ("农业生产", "Farming"),
    "social_security": ("社会保障", "Social security"),
    "medical_insurance": ("医疗保险", "Medical insurance"),
    "elderly_care": ("养老服务", "Elderly care"),
    "disability": ("残疾人服务", "Disability"),
    "employment": ("就业创业", "Employment"),
    "business": ("开办企业", "Starting a business"),
    "transport": ("交通出行", "Transport"),
    "household_registration": ("户籍证件", "Household registration and ID"),
    "civil_affairs": ("民政救助", "Civil affairs and relief"),
}
JOB_TYPES = ("FULL_TIME", "PART_TIME", "TEMPORARY", "SEASONAL", "CONTRACTOR")
SALARY_UNITS = ("MONTH", "DAY", "HOUR")
JobType = Literal["FULL_TIME", "PART_TIME", "TEMPORARY", "SEASONAL", "CONTRACTOR"]
SalaryUnit = Literal["MONTH", "DAY", "HOUR"]


def _day(value: date) -> date:
    if not date(1970, 1, 1) <= value < date(2200, 1, 1):
        raise ValueError("must lie between 1970 and 2200")
    return value


Day = Annotated[date, AfterValidator(_day)]
Text200 = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=10_000)]
Money = Annotated[float, Field(ge=0, le=1_000_000)]  # yuan


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


# -- directory and services --------------------------------------------------------------------------


class CategoryOut(BaseModel):
    code: str
    name: str
    name_en: str
    count: int


class DepartmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    name_en: Text200 = ""
    phones: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=10)] = []
    address: Text200 = ""
    hours: Text200 = ""
    duties: LongText = ""
    duties_en: LongText = ""


class DepartmentIn(DepartmentFields):
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class DepartmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    name_en: Text200 | None = None
    phones: Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=10)] | None = None
    address: Text200 | None = None
    hours: Text200 | None = None
    duties: LongText | None = None
    duties_en: LongText | None = None


class DepartmentOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    phones: list[str]
    address: str
    hours: str
    duties: str
    duties_en: str
    services: int


def _categories(value: list[str]) -> list[str]:
    unknown = [c for c in value if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {', '.join(CATEGORIES)}")
    return list(dict.fromkeys(value))


Categories = Annotated[list[str], Field(max_length=len(CATEGORIES)), AfterValidator(_categories)]
Materials = Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=50)]


class ServiceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(max_length=300)] = ""
    categories: Categories = []
    summary: LongText = ""
    conditions: LongText = ""
    materials: Materials = []
    where: Annotated[str, Field(max_length=300)] = ""
    when: Text200 = ""
    time_limit: Annotated[str, Field(max_length=100)] = ""
    fees: Text200 = ""
    phone: Annotated[str, Field(max_length=64)] = ""
    online_url: Annotated[str, Field(max_length=500)] = ""

    @field_validator("online_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) address")
        return value


class ServiceIn(ServiceFields):
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
    department_id: DbId
    published: bool = False


class ServicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department_id: DbId | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    title_en: Annotated[str, Field(max_length=300)] | None = None
    categories: Categories | None = None
    summary: LongText | None = None
    conditions: LongText | None = None
    materials: Materials | None = None
    where: Annotated[str, Field(max_length=300)] | None = None
    when: Text200 | None = None
    time_limit: Annotated[str, Field(max_length=100)] | None = None
    fees: Text200 | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    online_url: Annotated[str, Field(max_length=500)] | None = None


class ServiceBrief(BaseModel):
    id: int
    code: str
    title: str
    title_en: str
    department_id: int
    department: str
    department_en: str = ""
    categories: list[str]
    published: bool


class ServiceOut(ServiceBrief):
    conditions: str
    materials: list[str]
    where: str
    when: str
    time_limit: str
    fees: str
    phone: str
    online_url: str
    summary: str
    updated_at: datetime


# -- jobs --------------------------------------------------------------------------------------------


class JobFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(max_length=300)] = ""
    employer: Annotated[str, Field(min_length=1, max_length=200)]
    city: Annotated[str, Field(min_length=1, max_length=64)]
    type: JobType = "FULL_TIME"
    salary_min: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    salary_max: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    salary_unit: SalaryUnit = "MONTH"
    work_hours: Text200 = ""
    requirements: LongText = ""
    contact: Text200 = ""
    date_posted: Day
    valid_through: StoredDatetime

    @field_validator("salary_max")
    @classmethod
    def _range(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("salary_min")
        if value is not None and low is not None and value < low:
            raise ValueError("salary_max is below salary_min")
        return value


class JobIn(JobFields):
    department_id: DbId | None = None
    published: bool = False


class JobPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    title_en: Annotated[str, Field(max_length=300)] | None = None
    employer: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    type: JobType | None = None
    salary_min: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    salary_max: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    salary_unit: SalaryUnit | None = None
    work_hours: Text200 | None = None
    requirements: LongText | None = None
    contact: Text200 | None = None
    date_posted: Day | None = None
    valid_through: StoredDatetime | None = None


class JobOut(BaseModel):
    id: int
    title: str
    title_en: str
    employer: str
    city: str
    type: str
    salary_min: int | None
    salary_max: int | None
    salary_unit: str
    work_hours: str
    requirements: str
    contact: str
    date_posted: date
    valid_through: datetime
    department_id: int | None
    published: bool


class CityOut(BaseModel):
    city: str
    count: int


# -- prices ------------------------------------------------------------------------------------------


class ProductOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    kind: str
    unit: str


class MarketOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str


class PriceRow(BaseModel):
    product_id: int
    product: str
    product_en: str
    unit: str
    market_id: int
    market: str
    market_en: str
    day: date
    price: float
    previous: float | None
    change: float | None
    change_pct: float | None


class PricesOut(BaseModel):
    day: date | None
    items: list[PriceRow]


class MoversOut(BaseModel):
    day: date | None
    risers: list[PriceRow]
    fallers: list[PriceRow]


class PointOut(BaseModel):
    day: date
    price: float


class MarketSeries(BaseModel):
    market_id: int
    market: str
    points: list[PointOut]


class SeriesOut(BaseModel):
    product_id: int
    product: str
    unit: str
    series: list[MarketSeries]


class PriceItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: DbId
    market_id: DbId
    price: Annotated[float, Field(gt=0, le=1_000_000)]


class PricesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Day
    items: Annotated[list[PriceItemIn], Field(min_length=1, max_length=5000)]


class PricesWritten(BaseModel):
    day: date
    written: int
    alerts: int


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: DbId
    market_id: DbId | None = None
    threshold_percent: Annotated[float, Field(gt=0, le=1000)] | None = None
    price_above: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    price_below: Annotated[float, Field(gt=0, le=1_000_000)] | None = None


class SubscriptionOut(BaseModel):
    id: int
    product_id: int
    product: str
    market_id: int | None
    market: str | None
    threshold_percent: float | None
    price_above: float | None
    price_below: float | None
    created_at: datetime


class PriceAlertOut(BaseModel):
    id: int
    subscription_id: int
    product_id: int
    product: str
    market_id: int
    market: str
    day: date
    price: float
    previous: float | None
    change_pct: float | None
    reason: str
    message: str
    message_en: str
    created_at: datetime
    read_at: datetime | None


# -- notices -----------------------------------------------------------------------------------------


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region_id: DbId
    urgent: bool = False
    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(max_length=300)] = ""
    body: LongText = ""
    body_en: LongText = ""


class NoticeOut(BaseModel):
    id: int
    title: str
    title_en: str
    body: str
    body_en: str
    urgent: bool
    region_id: int
    region: str
    publisher: str
    published_at: datetime
    read: bool


class ManagedNoticeOut(NoticeOut):
    households_total: int
    households_read: int
    withdrawn: bool


class NoticeReadOut(BaseModel):
    household_id: int | None
    household_code: str | None
    head_name: str | None
    username: str
    read_at: datetime


class NoticeReadsOut(BaseModel):
    notice_id: int
    households_total: int
    households_read: int
    reads: list[NoticeReadOut]


class BannerOut(BaseModel):
    urgent: list[NoticeOut]
    notices_unread: int
    price_alerts_unread: int


# -- search, editors, imports ------------------------------------------------------------------------


class SearchHitOut(BaseModel):
    kind: str
    id: int
    title: str
    title_en: str
    subtitle: str
    match: str


class EditorScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    county: bool = False
    department_ids: Annotated[list[DbId], Field(max_length=200)] = []


class EditorScopeOut(BaseModel):
    user_id: int
    county: bool
    department_ids: list[int]


class ImportResult(BaseModel):
    created: int
    updated: int
