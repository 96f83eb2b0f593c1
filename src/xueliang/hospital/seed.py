"""The demo county's hospital data, written after the regions, cameras and users exist: the county
People's Hospital and the county TCM Hospital, 8 departments each, 3 doctors per department, 14 days
of morning and afternoon sessions with 20 numbered places, a staff user per hospital and a couple of
bookings. Bulk statements (the places are one INSERT ... SELECT), so it costs well under a second."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service as accounts
from xueliang.accounts.models import Role, User
from xueliang.accounts.policy import Principal
from xueliang.audit.service import SYSTEM, Actor
from xueliang.core.settings import NodeSettings
from xueliang.hospital import service
from xueliang.hospital.models import (
    Hospital,
    HospitalDepartment,
    HospitalDoctor,
    HospitalPlace,
    HospitalSession,
    HospitalStaff,
    Period,
)
from xueliang.regions.models import Region, RegionLevel

DAYS = 14
PLACES = 20
HOSPITALS = [
    (
        "RMYY",
        "县人民医院",
        "County People's Hospital",
        "凤仪镇人民路1号",
        "0837-7422120",
        "hs-rmyy",
        [
            ("NK", "内科", "Internal Medicine", "门诊楼2楼"),
            ("WK", "外科", "Surgery", "门诊楼2楼"),
            ("FCK", "妇产科", "Obstetrics and Gynaecology", "门诊楼3楼"),
            ("EK", "儿科", "Paediatrics", "门诊楼1楼"),
            ("GK", "骨科", "Orthopaedics", "门诊楼3楼"),
            ("YK", "眼科", "Ophthalmology", "门诊楼4楼"),
            ("EBH", "耳鼻喉科", "Ear, Nose and Throat", "门诊楼4楼"),
            ("KQ", "口腔科", "Dentistry", "门诊楼5楼"),
        ],
    ),
    (
        "ZYY",
        "县中医医院",
        "County Traditional Chinese Medicine Hospital",
        "凤仪镇岷江路8号",
        "0837-7423330",
        "hs-zyy",
        [
            ("ZYNK", "中医内科", "TCM Internal Medicine", "1楼"),
            ("ZJ", "针灸科", "Acupuncture", "2楼"),
            ("TN", "推拿科", "Tuina Massage", "2楼"),
            ("GS", "中医骨伤科", "TCM Orthopaedics and Traumatology", "3楼"),
            ("ZYFK", "中医妇科", "TCM Gynaecology", "3楼"),
            ("ZYEK", "中医儿科", "TCM Paediatrics", "1楼"),
            ("KF", "康复科", "Rehabilitation", "4楼"),
            ("PF", "皮肤科", "Dermatology", "4楼"),
        ],
    ),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何罗高林"
GIVEN = "建国秀英志强丽华德明玉兰国平桂芳海燕文军春梅永红晓东"
TITLES = ["主任医师", "副主任医师", "主治医师"]


def _doctor_name(n: int) -> str:
    return SURNAMES[(n * 7) % len(SURNAMES)] + GIVEN[(n * 2) % len(GIVEN)] + GIVEN[(n * 2 + 1) % len(GIVEN)]


async def seed_demo(session: AsyncSession, *, now: datetime) -> None:
    """Called by seed/load.py inside its transaction (it commits); reads what it needs from the database."""
    county = (await session.scalars(select(Region).where(Region.level == RegionLevel.county))).first()
    if county is None:
        return
    w = service.When(now, ZoneInfo(NodeSettings.model_fields["timezone"].default))
    hospital_ids: list[int] = []
    doctor_n = 0
    for code, name, name_en, address, phone, staff, departments in HOSPITALS:
        h = Hospital(code=code, name=name, name_en=name_en, address=address, phone=phone)
        session.add(h)
        await session.flush()
        hospital_ids.append(h.id)
        for d_code, d_name, d_name_en, location in departments:
            dept = HospitalDepartment(
                hospital_id=h.id, code=d_code, name=d_name, name_en=d_name_en, location=location
            )
            session.add(dept)
            await session.flush()
            for k in range(3):
                doctor_n += 1
                session.add(
                    HospitalDoctor(
                        department_id=dept.id, name=_doctor_name(doctor_n), title=TITLES[k], specialty=d_name
                    )
                )
        await session.flush()
        await _staff_user(session, county, staff, f"{name}挂号处", h.id, now)
    doctors = (
        await session.execute(
            select(HospitalDoctor.id, HospitalDepartment.id, HospitalDepartment.hospital_id)
            .join(HospitalDepartment, HospitalDepartment.id == HospitalDoctor.department_id)
            .where(HospitalDepartment.hospital_id.in_(hospital_ids))
        )
    ).all()
    rows = [
        {
            "hospital_id": hid,
            "department_id": did,
            "doctor_id": doc,
            "day": w.today + timedelta(days=d),
            "period": period,
            "capacity": PLACES,
            "stopped": False,
            "stop_reason": "",
        }
        for doc, did, hid in doctors
        for d in range(DAYS)
        for period in (Period.morning, Period.afternoon)
    ]
    await session.execute(insert(HospitalSession), rows)
    nums = select(literal(1).label("n")).cte("nums", recursive=True)
    nums = nums.union_all(select(nums.c.n + 1).where(nums.c.n < PLACES))
    places = (
        select(HospitalSession.id, nums.c.n)
        .join(nums, nums.c.n <= HospitalSession.capacity)
        .where(HospitalSession.hospital_id.in_(hospital_ids))
    )
    await session.execute(insert(HospitalPlace).from_select(["session_id", "number"], places))
    await _bookings(session, w)


async def _staff_user(
    session: AsyncSession, county: Region, username: str, display: str, hospital_id: int, now: datetime
) -> None:
    """A hospital_staff login. Domains cannot read the demo password (seed/ sits above them), so the
    user gets the county admin's password hash: every demo login then shares the one demo password."""
    if await accounts.find_user(session, username) is not None:
        return
    user = await accounts.create_user(
        session,
        SYSTEM,
        username=username,
        password=secrets.token_urlsafe(24),
        role=Role.hospital_staff,
        region=county,
        display_name=display,
        now=now,
        audit_it=False,
    )
    admin = await accounts.find_user(session, "admin")
    if admin is not None:
        user.password_hash = admin.password_hash
    session.add(HospitalStaff(user_id=user.id, hospital_id=hospital_id))
    await session.flush()


async def _bookings(session: AsyncSession, w: service.When) -> None:
    """Two bookings of the first resident household, tomorrow."""
    resident = (
        await session.scalars(
            select(User).where(User.role == Role.resident, User.household_id.is_not(None)).order_by(User.id)
        )
    ).first()
    if resident is None or resident.household_id is None:
        return
    region = await session.get(Region, resident.region_id)
    assert region is not None
    p = Principal(
        resident.id, resident.username, resident.role, region.id, region.path, resident.household_id
    )
    actor = Actor(resident.id, resident.username)
    tomorrow = w.today + timedelta(days=1)
    patients = [
        ("王秀英", "513223195203150027", "13800000001"),
        ("王建国", "513223195007080017", "13800000002"),
    ]
    for (name, id_number, phone), dept_code in zip(patients, ("NK", "GK"), strict=True):
        s = (
            await session.scalars(
                select(HospitalSession)
                .join(HospitalDepartment, HospitalDepartment.id == HospitalSession.department_id)
                .where(HospitalDepartment.code == dept_code, HospitalSession.day == tomorrow)
                .order_by(HospitalSession.period, HospitalSession.doctor_id)
            )
        ).first()
        if s is None:
            continue
        patient = service.check_patient(name, id_number, phone, w)
        await service.book(
            session, p, actor, hold_token=None, session_id=s.id, household_id=None, patient=patient, w=w
        )
