# ruff: noqa: E501 - data tables, one row a line
"""The demo county's portal data, written after the regions, cameras and users exist: 60 departments,
300+ services (subjects x actions, so this file stays small), jobs from 10 cities, 20 products x 3
markets x 30 days of prices, a few notices (one urgent), and two portal editors (county-wide
`editor`, and `editor-rsj` for the human resources bureau) who share the admin's demo password."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service as accounts
from xueliang.accounts.models import Role, User
from xueliang.audit.service import SYSTEM
from xueliang.portal.models import (
    EditorScope,
    PortalDepartment,
    PortalJob,
    PortalMarket,
    PortalNotice,
    PortalPrice,
    PortalProduct,
    PortalService,
)
from xueliang.regions.models import Region, RegionLevel

# code, name (县 + name), English, what it does
DEPARTMENTS = [
    ("rsj", "人力资源和社会保障局", "Human Resources and Social Security Bureau", "就业、社会保险和劳动关系"),
    ("ybj", "医疗保障局", "Healthcare Security Administration", "城乡居民医疗保险和医疗救助"),
    ("mzj", "民政局", "Civil Affairs Bureau", "婚姻登记、社会救助和养老服务"),
    ("gaj", "公安局", "Public Security Bureau", "户籍、居民身份证和治安管理"),
    ("jyj", "教育局", "Education Bureau", "学前教育、义务教育和学生资助"),
    ("wjj", "卫生健康局", "Health Commission", "医疗卫生、生育服务和健康促进"),
    ("nyj", "农业农村局", "Agriculture and Rural Affairs Bureau", "农业生产、农村宅基地和惠农补贴"),
    ("zrj", "自然资源局", "Natural Resources Bureau", "国土空间规划、耕地保护和地质灾害防治"),
    ("zjj", "住房和城乡建设局", "Housing and Urban-Rural Development Bureau", "农房建设、危房改造和住房保障"),
    ("jtj", "交通运输局", "Transport Bureau", "农村公路、道路运输和客运"),
    ("scj", "市场监督管理局", "Market Regulation Administration", "市场主体登记、食品安全和消费维权"),
    ("cl", "残疾人联合会", "Disabled Persons' Federation", "残疾人证、康复和补贴"),
    ("tyj", "退役军人事务局", "Veterans Affairs Bureau", "退役军人安置、优抚和褒扬"),
    ("swj", "税务局", "Taxation Bureau", "税费征收和纳税服务"),
    ("lcj", "林业和草原局", "Forestry and Grassland Bureau", "林木采伐、森林防火和野生动植物保护"),
    ("slj", "水利局", "Water Resources Bureau", "农村饮水、水土保持和河道管理"),
    ("sthj", "生态环境局", "Ecology and Environment Bureau", "环境保护和污染防治"),
    ("yjj", "应急管理局", "Emergency Management Bureau", "防灾减灾、安全生产和应急救援"),
    ("sfj", "司法局", "Justice Bureau", "法律援助、人民调解和公证"),
    ("wlj", "文化广播电视和旅游局", "Culture, Radio, TV and Tourism Bureau", "文化、广播电视和旅游"),
    ("czj", "财政局", "Finance Bureau", "财政资金和惠民惠农补贴发放"),
    ("fgj", "发展和改革局", "Development and Reform Bureau", "项目审批、价格监测和粮食储备"),
    ("jxj", "经济信息化和商务局", "Economy, IT and Commerce Bureau", "工业、电商和商贸流通"),
    ("tjj", "统计局", "Statistics Bureau", "统计调查和数据发布"),
    ("sjj", "审计局", "Audit Bureau", "审计监督"),
    ("xzj", "乡村振兴局", "Rural Revitalization Bureau", "防止返贫监测和帮扶"),
    ("spj", "行政审批局", "Administrative Approval Bureau", "相对集中的行政许可"),
    ("zwzx", "政务服务中心", "Government Service Centre", "政务服务大厅和一窗受理"),
    ("dag", "档案馆", "Archives", "档案查询和利用"),
    ("qxj", "气象局", "Meteorological Bureau", "天气预报和气象灾害预警"),
    ("gxs", "供销合作社", "Supply and Marketing Cooperative", "农资供应和农产品收购"),
    ("fl", "妇女联合会", "Women's Federation", "妇女儿童权益保护"),
    ("zgh", "总工会", "Federation of Trade Unions", "职工权益和困难职工帮扶"),
    ("tw", "共青团县委", "Communist Youth League County Committee", "青少年服务和志愿服务"),
    ("hsz", "红十字会", "Red Cross Society", "应急救护培训和人道救助"),
    ("fy", "人民法院", "People's Court", "诉讼服务和立案"),
    ("jcy", "人民检察院", "People's Procuratorate", "控告申诉和司法救助"),
    ("xf", "消防救援大队", "Fire and Rescue Brigade", "火灾扑救和消防监督"),
    ("jj", "公安局交通警察大队", "Traffic Police Brigade", "机动车和驾驶人业务"),
    ("cdc", "疾病预防控制中心", "Center for Disease Control", "预防接种和传染病防控"),
    ("rmyy", "人民医院", "County People's Hospital", "医疗救治和健康体检"),
    ("zyyy", "中医医院", "County Traditional Chinese Medicine Hospital", "中医诊疗和康复"),
    ("fybj", "妇幼保健院", "Maternal and Child Health Hospital", "孕产妇和儿童保健"),
    ("gjj", "住房公积金管理中心", "Housing Provident Fund Centre", "公积金缴存、提取和贷款"),
    ("bdc", "不动产登记中心", "Real Estate Registration Centre", "不动产登记和查询"),
    ("jyzx", "就业服务中心", "Employment Service Centre", "职业介绍、技能培训和创业服务"),
    ("sbj", "社会保险事业管理局", "Social Insurance Administration", "养老保险和工伤保险经办"),
    ("ybzx", "医疗保险事务中心", "Medical Insurance Affairs Centre", "医保经办和报销结算"),
    ("jgz", "农村经营管理站", "Rural Economic Management Station", "土地承包和农民专业合作社"),
    ("ntz", "农业技术推广中心", "Agricultural Technology Extension Centre", "农技推广和种植指导"),
    ("dyz", "动物疫病预防控制中心", "Animal Disease Control Centre", "动物防疫和检疫"),
    ("lgz", "林业工作站", "Forestry Station", "林权和护林员管理"),
    ("swgs", "水务有限公司", "Water Supply Company", "城乡供水和报装"),
    ("gdgs", "国网供电公司", "State Grid Power Supply Company", "用电报装和电费"),
    ("yz", "邮政分公司", "Post Office", "邮政寄递和代办业务"),
    ("tsg", "图书馆", "Library", "借阅和阅读推广"),
    ("whg", "文化馆", "Cultural Centre", "群众文化活动和非遗保护"),
    ("rmt", "融媒体中心", "Converged Media Centre", "新闻发布和应急广播"),
    ("xfj", "信访局", "Petitions Bureau", "群众来信来访"),
    ("rx", "12345政务服务便民热线", "12345 Citizen Service Hotline", "群众诉求受理和转办"),
]

# subject, English, department, categories, actions (from ACTIONS), extra materials
# fmt: off
SUBJECTS: list[tuple[str, str, str, list[str], str, list[str]]] = [
    ("社会保障卡", "social security card", "rsj", ["social_security"], "apply replace loss change", ["近期免冠照片"]),
    ("城乡居民养老保险", "rural and urban residents' pension", "sbj", ["social_security", "elderly_care"], "register claim transfer stop", []),
    ("职工养老保险", "employees' pension", "sbj", ["social_security"], "register transfer claim", ["劳动合同"]),
    ("工伤保险待遇", "work injury benefits", "sbj", ["social_security"], "claim recognize", ["医疗诊断证明"]),
    ("失业保险金", "unemployment benefit", "rsj", ["social_security", "employment"], "claim", ["解除劳动合同证明"]),
    ("失业登记", "unemployment registration", "jyzx", ["employment"], "register cancel", []),
    ("就业创业证", "employment and business card", "jyzx", ["employment"], "apply replace change", []),
    ("创业担保贷款", "start-up guaranteed loan", "jyzx", ["employment", "business"], "apply", ["创业项目计划书"]),
    ("职业技能培训补贴", "vocational training subsidy", "jyzx", ["employment"], "claim", ["培训合格证书"]),
    ("城乡居民医疗保险", "residents' medical insurance", "ybzx", ["medical_insurance"], "register change stop", []),
    ("异地就医", "medical treatment in another place", "ybj", ["medical_insurance"], "file cancel", []),
    ("门诊慢特病待遇", "chronic disease outpatient benefits", "ybj", ["medical_insurance"], "recognize", ["病历及检查报告"]),
    ("医疗费用零星报销", "reimbursement of medical costs", "ybzx", ["medical_insurance"], "claim", ["医疗费用发票", "费用清单"]),
    ("医疗救助", "medical assistance", "ybj", ["medical_insurance", "civil_affairs"], "apply", ["医疗费用发票"]),
    ("生育登记", "birth registration", "wjj", ["birth"], "register change", ["结婚证"]),
    ("出生医学证明", "birth medical certificate", "fybj", ["birth"], "apply replace", ["父母身份证"]),
    ("生育津贴", "maternity allowance", "ybzx", ["birth", "medical_insurance"], "claim", ["出生医学证明"]),
    ("收养登记", "adoption registration", "mzj", ["birth", "civil_affairs"], "register cancel", []),
    ("结婚登记", "marriage registration", "mzj", ["marriage"], "register", ["本人近期半身免冠合影照片"]),
    ("离婚登记", "divorce registration", "mzj", ["marriage"], "register", ["结婚证", "离婚协议书"]),
    ("婚姻登记证", "marriage certificate", "mzj", ["marriage"], "replace", []),
    ("居民身份证", "resident ID card", "gaj", ["household_registration"], "apply replace loss", ["近期免冠照片"]),
    ("临时居民身份证", "temporary resident ID card", "gaj", ["household_registration"], "apply", []),
    ("户口迁移", "household registration transfer", "gaj", ["household_registration"], "apply", ["准迁证明"]),
    ("新生儿入户", "household registration of a newborn", "gaj", ["birth", "household_registration"], "register", ["出生医学证明"]),
    ("居住证", "residence permit", "gaj", ["household_registration"], "apply renew", ["居住证明"]),
    ("义务教育入学", "compulsory school enrolment", "jyj", ["schooling"], "register", ["儿童预防接种证"]),
    ("转学", "school transfer", "jyj", ["schooling"], "apply", ["学籍信息表"]),
    ("家庭经济困难学生资助", "aid for students from poor families", "jyj", ["schooling", "civil_affairs"], "apply", ["家庭经济困难认定表"]),
    ("学前教育资助", "pre-school aid", "jyj", ["schooling"], "apply", []),
    ("农村宅基地", "rural homestead", "nyj", ["housing", "farming"], "apply change", ["村民小组意见"]),
    ("乡村建设规划许可", "rural building planning permit", "zrj", ["housing"], "apply change", ["建房设计图"]),
    ("农村危房改造补助", "rural dilapidated housing subsidy", "zjj", ["housing"], "apply", ["房屋安全鉴定"]),
    ("不动产登记", "real estate registration", "bdc", ["housing"], "register change cancel", ["权属来源证明"]),
    ("住房公积金", "housing provident fund", "gjj", ["housing"], "claim transfer", ["购房合同"]),
    ("耕地地力保护补贴", "farmland protection subsidy", "nyj", ["farming"], "claim change", ["承包经营权证"]),
    ("农机购置补贴", "farm machinery purchase subsidy", "nyj", ["farming"], "claim", ["购机发票"]),
    ("农作物种子经营许可", "crop seed trading licence", "nyj", ["farming", "business"], "apply renew", []),
    ("动物防疫条件合格证", "animal epidemic prevention certificate", "dyz", ["farming"], "apply change", []),
    ("动物检疫合格证明", "animal quarantine certificate", "dyz", ["farming"], "apply", []),
    ("林木采伐许可", "tree felling permit", "lcj", ["farming"], "apply", ["林权证"]),
    ("农民专业合作社", "farmers' cooperative", "scj", ["farming", "business"], "register change cancel", ["成员名册"]),
    ("土地承包经营权", "land contract rights", "jgz", ["farming"], "transfer change", ["承包合同"]),
    ("高龄津贴", "old-age allowance", "mzj", ["elderly_care"], "claim", []),
    ("特困人员救助供养", "support for people in extreme poverty", "mzj", ["elderly_care", "civil_affairs"], "apply", []),
    ("养老机构", "elderly care institution", "mzj", ["elderly_care"], "file change", []),
    ("居家养老服务补贴", "home care subsidy", "mzj", ["elderly_care"], "apply", ["能力评估表"]),
    ("残疾人证", "disability certificate", "cl", ["disability"], "apply replace change", ["近期免冠照片"]),
    ("困难残疾人生活补贴", "living subsidy for disabled people in need", "cl", ["disability"], "claim", []),
    ("重度残疾人护理补贴", "care subsidy for severely disabled people", "cl", ["disability"], "claim", []),
    ("残疾人辅助器具", "assistive devices for disabled people", "cl", ["disability"], "apply", []),
    ("最低生活保障", "minimum living allowance", "mzj", ["civil_affairs"], "apply stop", ["家庭收入证明"]),
    ("临时救助", "temporary assistance", "mzj", ["civil_affairs"], "apply", []),
    ("法律援助", "legal aid", "sfj", ["civil_affairs"], "apply", ["经济困难说明"]),
    ("个体工商户", "sole proprietorship", "scj", ["business"], "register change cancel", ["经营场所证明"]),
    ("食品经营许可", "food business licence", "scj", ["business"], "apply change renew", []),
    ("营业执照", "business licence", "scj", ["business"], "replace change", []),
    ("机动车驾驶证", "driving licence", "jj", ["transport"], "renew replace", ["体检证明"]),
    ("机动车登记", "vehicle registration", "jj", ["transport"], "register transfer cancel", ["购车发票"]),
    ("道路运输证", "road transport certificate", "jtj", ["transport", "business"], "apply renew", []),
    ("优待证", "veterans' preferential treatment card", "tyj", ["civil_affairs"], "apply replace", []),
    ("用水报装", "water connection", "swgs", ["housing"], "apply", ["房屋权属证明"]),
    ("政策性农业保险", "policy-based farm insurance", "nyj", ["farming"], "register claim", ["种植或养殖清单"]),
    ("独生子女父母奖励扶助", "reward for parents of only children", "wjj", ["birth", "elderly_care"], "apply", []),
    ("预防接种", "vaccination", "cdc", ["birth", "schooling"], "register", ["预防接种证"]),
    ("老年人优待证", "senior citizen card", "mzj", ["elderly_care"], "apply replace", ["近期免冠照片"]),
    ("生态护林员", "forest ranger post", "lgz", ["employment", "farming"], "apply", []),
    ("用电报装", "electricity connection", "gdgs", ["housing"], "apply change", []),
]
# fmt: on

ACTIONS = {
    "apply": ("申领", "Apply for"),
    "replace": ("补领换领", "Replace"),
    "loss": ("挂失", "Report the loss of"),
    "change": ("信息变更", "Change the details of"),
    "register": ("办理", "Register"),
    "cancel": ("注销", "Cancel"),
    "claim": ("申请", "Claim"),
    "transfer": ("转移接续", "Transfer"),
    "stop": ("暂停或终止", "Stop"),
    "file": ("备案", "File"),
    "recognize": ("资格认定", "Get recognition for"),
    "renew": ("延续", "Renew"),
    "query": ("办理进度查询", "Check an application for"),
    "consult": ("政策咨询", "Ask about"),
}
EVERY_SUBJECT = ("query", "consult")  # every subject can be asked about and followed
LIMITS = [
    "即时办结",
    "1个工作日",
    "3个工作日",
    "5个工作日",
    "7个工作日",
    "10个工作日",
    "15个工作日",
    "20个工作日",
]

CITIES = ["成都", "重庆", "绵阳", "德阳", "都江堰", "西安", "深圳", "广州", "东莞", "杭州"]
# fmt: off
JOBS = [  # title, English, type, unit, low, high, hours, requirement
    ("电子厂普工", "Electronics factory worker", "FULL_TIME", "MONTH", 4500, 6500, "两班倒，每天8小时", "18-45岁，视力良好"),
    ("建筑木工", "Construction carpenter", "TEMPORARY", "DAY", 280, 380, "每天8-10小时", "有两年以上经验"),
    ("钢筋工", "Steel fixer", "TEMPORARY", "DAY", 260, 350, "每天8-10小时", "身体健康，能吃苦"),
    ("餐厅服务员", "Restaurant waiter", "FULL_TIME", "MONTH", 3800, 4800, "做六休一，包吃住", "18-50岁，普通话流利"),
    ("中餐厨师", "Chinese cuisine cook", "FULL_TIME", "MONTH", 6000, 9000, "每天10小时", "持健康证，会川菜优先"),
    ("保安员", "Security guard", "FULL_TIME", "MONTH", 3500, 4500, "三班倒", "55岁以下，退役军人优先"),
    ("快递分拣员", "Parcel sorter", "PART_TIME", "HOUR", 20, 25, "夜班4-6小时", "18-50岁"),
    ("家政服务员", "Housekeeper", "FULL_TIME", "MONTH", 5000, 7000, "住家，每月休4天", "女性，50岁以下，有经验优先"),
    ("养老护理员", "Elderly carer", "FULL_TIME", "MONTH", 4200, 5500, "做六休一", "有耐心，持证优先，可免费培训"),
    ("货车司机", "Truck driver", "FULL_TIME", "MONTH", 8000, 12000, "跑长途，按趟计算", "持A2或B2驾驶证"),
    ("采茶工", "Tea picker", "SEASONAL", "DAY", 120, 180, "3月至5月，每天6-8小时", "手脚麻利，包吃住"),
    ("果园采摘工", "Orchard picker", "SEASONAL", "DAY", 130, 160, "8月至10月", "身体健康"),
    ("服装厂缝纫工", "Garment factory sewer", "FULL_TIME", "MONTH", 5000, 8000, "计件，每天10小时", "会平车，熟手优先"),
    ("小区保洁员", "Estate cleaner", "PART_TIME", "MONTH", 2200, 2800, "每天5小时", "60岁以下"),
]
# fmt: on

EMPLOYERS = ["鑫达", "恒通", "川府", "金穗", "顺丰源", "安居", "华盛", "康宁", "蜀味", "新联"]
EMPLOYER_KINDS = [
    "电子科技有限公司",
    "建筑劳务有限公司",
    "餐饮管理有限公司",
    "物业服务有限公司",
    "物流有限公司",
    "家政服务有限公司",
    "养老服务中心",
    "运输有限公司",
    "农业专业合作社",
    "服饰有限公司",
]

PRODUCTS = [  # code, name, English, kind, base price (yuan per jin)
    ("baicai", "大白菜", "Chinese cabbage", "vegetable", 1.2),
    ("luobo", "白萝卜", "White radish", "vegetable", 1.0),
    ("tudou", "土豆", "Potato", "vegetable", 1.8),
    ("xihongshi", "西红柿", "Tomato", "vegetable", 3.5),
    ("huanggua", "黄瓜", "Cucumber", "vegetable", 3.0),
    ("lajiao", "青辣椒", "Green chili", "vegetable", 4.5),
    ("qiezi", "茄子", "Eggplant", "vegetable", 3.2),
    ("jiangdou", "豇豆", "Cowpea", "vegetable", 5.0),
    ("lianhuabai", "莲花白", "Cabbage", "vegetable", 1.5),
    ("qincai", "芹菜", "Celery", "vegetable", 2.8),
    ("suanmiao", "蒜苗", "Garlic sprouts", "vegetable", 6.0),
    ("shengjiang", "生姜", "Ginger", "vegetable", 7.5),
    ("dacong", "大葱", "Scallion", "vegetable", 3.0),
    ("wosun", "莴笋", "Celtuce", "vegetable", 2.5),
    ("pingguo", "苹果", "Apple", "fruit", 5.5),
    ("li", "梨", "Pear", "fruit", 4.0),
    ("yingtao", "甜樱桃", "Sweet cherry", "fruit", 25.0),
    ("lizi", "李子", "Plum", "fruit", 6.0),
    ("mihoutao", "猕猴桃", "Kiwi fruit", "fruit", 8.0),
    ("hetao", "核桃", "Walnut", "fruit", 15.0),
]
MARKETS = [
    ("county", "县城农贸市场", "County town farmers' market"),
    ("qingxi", "清溪镇集贸市场", "Qingxi town market"),
    ("shimen", "石门乡集贸市场", "Shimen township market"),
]
PRICE_DAYS = 30


def _phone(n: int) -> str:
    return f"0837-72{n:05d}"


async def seed_demo(session: AsyncSession, *, now: datetime) -> None:
    """Called by seed/load.py inside its transaction (it commits); reads what it needs from the database."""
    rng = random.Random(17)
    county = (await session.scalars(select(Region).where(Region.level == RegionLevel.county))).first()
    if county is None:
        return
    county_name = county.name

    depts: dict[str, int] = {}
    for n, (code, name, name_en, duty) in enumerate(DEPARTMENTS, start=1):
        dept = PortalDepartment(
            code=code,
            name=f"县{name}" if not name[0].isdigit() else name,
            name_en=f"County {name_en}",
            phones=[_phone(n * 10 + 1), _phone(n * 10 + 2)] if n % 3 else [_phone(n * 10 + 1)],
            address=f"{county_name}政务服务中心{1 + n % 4}楼{n:02d}号窗口"
            if n % 2
            else f"{county_name}滨河路{n * 7}号",
            hours="周一至周五 9:00-12:00，14:00-17:30（法定节假日除外）",
            duties=f"负责全县{duty}等工作，受理群众咨询、办事和投诉。",
            duties_en=f"Runs the county's {name_en.lower()} matters; answers questions and complaints.",
            updated_at=now,
        )
        session.add(dept)
        await session.flush()
        depts[code] = dept.id
    dept_names = {
        code: (f"县{name}" if not name[0].isdigit() else name) for code, name, _en, _d in DEPARTMENTS
    }
    dept_phone = {code: _phone(n * 10 + 1) for n, (code, *_r) in enumerate(DEPARTMENTS, start=1)}

    services: list[dict[str, object]] = []
    for subject, subject_en, dept_code, cats, actions, extra in SUBJECTS:
        for action in (*actions.split(), *EVERY_SUBJECT):
            zh, en = ACTIONS[action]
            services.append(
                {
                    "code": f"S{len(services) + 1:04d}",
                    "department_id": depts[dept_code],
                    "title": f"{subject}{zh}",
                    "title_en": f"{en} {subject_en}",
                    "categories": cats,
                    "summary": f"为符合条件的群众办理{subject}{zh}。",
                    "conditions": f"本县户籍居民或在本县居住的人员，符合{subject}相关政策规定。",
                    "materials": ["居民身份证原件", "户口簿", *extra, "申请表（窗口领取或网上下载）"],
                    "where": f"{dept_names[dept_code]}窗口（县政务服务中心）或所在乡镇便民服务中心",
                    "when": "周一至周五 9:00-12:00，14:00-17:30",
                    "time_limit": rng.choice(LIMITS),
                    "fees": "不收费" if rng.random() < 0.9 else "工本费20元",
                    "phone": dept_phone[dept_code],
                    "online_url": f"https://zwfw.xueliang.example.gov.cn/item/S{len(services) + 1:04d}",
                    "published": True,
                    "updated_at": now,
                }
            )
    for code, name, name_en, _duty in DEPARTMENTS:  # every department answers information requests
        services.append(
            {
                "code": f"S{len(services) + 1:04d}",
                "department_id": depts[code],
                "title": f"{dept_names[code]}政府信息公开申请",
                "title_en": f"Request for government information ({name_en})",
                "categories": ["civil_affairs"],
                "summary": f"向{dept_names[code]}申请公开政府信息。",
                "conditions": "公民、法人或其他组织均可申请。",
                "materials": ["居民身份证或营业执照", "政府信息公开申请表"],
                "where": f"{dept_names[code]}办公室",
                "when": "周一至周五 9:00-12:00，14:00-17:30",
                "time_limit": "20个工作日",
                "fees": "不收费",
                "phone": dept_phone[code],
                "online_url": "",
                "published": name != "审计局",  # one draft, for the editors' view
                "updated_at": now,
            }
        )
    await session.execute(insert(PortalService), services)

    jobs: list[dict[str, object]] = []
    today = now.date()
    for n in range(60):
        title, title_en, kind, unit, low, high, hours, req = JOBS[n % len(JOBS)]
        city = CITIES[n % len(CITIES)]
        posted = today - timedelta(days=rng.randint(0, 20))
        expired = n % 15 == 14  # a few postings have ended and must not show
        jobs.append(
            {
                "department_id": depts["jyzx"],
                "title": title,
                "title_en": title_en,
                "employer": f"{city}{EMPLOYERS[n % 10]}{EMPLOYER_KINDS[(n // 10 + n) % 10]}",
                "city": city,
                "job_type": kind,
                "salary_min": low,
                "salary_max": high,
                "salary_unit": unit,
                "work_hours": hours,
                "requirements": req,
                "contact": f"县就业服务中心 {dept_phone['jyzx']}",
                "date_posted": posted,
                "valid_through": now - timedelta(days=1)
                if expired
                else now + timedelta(days=rng.randint(10, 60)),
                "published": True,
                "updated_at": now,
            }
        )
    await session.execute(insert(PortalJob), jobs)

    product_ids = []
    for code, name, name_en, kind, _base in PRODUCTS:
        prod = PortalProduct(code=code, name=name, name_en=name_en, kind=kind, unit="斤")
        session.add(prod)
        await session.flush()
        product_ids.append(prod.id)
    market_ids = []
    for code, name, name_en in MARKETS:
        market = PortalMarket(code=code, name=name, name_en=name_en)
        session.add(market)
        await session.flush()
        market_ids.append(market.id)
    prices: list[dict[str, object]] = []
    for (_c, _n, _e, _k, base), pid in zip(PRODUCTS, product_ids, strict=True):
        for k, mid in enumerate(market_ids):
            price = base * (1.0 + 0.06 * k)
            for d in range(PRICE_DAYS - 1, -1, -1):
                price = max(0.3, price * (1 + rng.uniform(-0.07, 0.07)))
                prices.append(
                    {
                        "product_id": pid,
                        "market_id": mid,
                        "day": today - timedelta(days=d),
                        "price_fen": round(price * 100),
                        "published_at": now - timedelta(days=d),
                    }
                )
    await session.execute(insert(PortalPrice), prices)

    admin = (await session.scalars(select(User).where(User.role == Role.admin).order_by(User.id))).first()
    townships = {
        r.code: r for r in await session.scalars(select(Region).where(Region.level == RegionLevel.township))
    }
    village = (
        await session.scalars(select(Region).where(Region.level == RegionLevel.village).order_by(Region.code))
    ).first()
    publisher = admin.display_name if admin else "县政府"
    notices = [
        (
            county,
            False,
            "冬季森林草原防火提示",
            "Winter forest fire prevention",
            "进入冬季森林草原防火期，严禁野外用火。发现火情请立即拨打12119或119。",
            "The winter fire season has begun: no open fires outdoors. Report fires at 12119 or 119.",
            3,
        ),
        (
            county,
            False,
            "城乡居民医疗保险开始缴费",
            "Residents' medical insurance payments open",
            "明年度城乡居民医疗保险集中缴费已开始，可在电视、手机或村便民服务点缴费。",
            "Payments for next year's residents' medical insurance are open on TV, phone or at the village.",
            2,
        ),
    ]
    qingxi = townships.get(f"{county.code}101")
    if qingxi is not None:
        notices.append(
            (
                qingxi,
                True,
                "暴雨山洪地质灾害预警",
                "Rainstorm, flash flood and landslide warning",
                "今夜到明天清溪镇有大到暴雨，沿河和山脚农户请提前转移到安置点，听从村组安排。",
                "Heavy rain tonight and tomorrow in Qingxi: households by the river and below slopes, move "
                "to the shelters now and follow the village's instructions.",
                0,
            )
        )
    if village is not None:
        notices.append(
            (
                village,
                False,
                f"{village.name}村民大会通知",
                f"{village.name_en or village.name} villagers' meeting",
                "本周六上午9点在村委会召开村民大会，讨论农村公路维修事宜。",
                "Villagers' meeting on Saturday at 9:00 at the village committee about road repairs.",
                1,
            )
        )
    for region, urgent, title, title_en, body, body_en, days_ago in notices:
        session.add(
            PortalNotice(
                region_id=region.id,
                region_path=region.path,
                publisher_id=admin.id if admin else None,
                publisher=publisher,
                urgent=urgent,
                title=title,
                title_en=title_en,
                body=body,
                body_en=body_en,
                published_at=now - timedelta(days=days_ago, hours=1),
            )
        )

    for username, display, scope in (
        ("editor", "县政务服务内容编辑", None),
        ("editor-rsj", "县人社局内容编辑", "rsj"),
    ):
        user = await accounts.create_user(
            session,
            SYSTEM,
            username=username,
            password=secrets.token_urlsafe(24),
            role=Role.portal_editor,
            region=county,
            display_name=display,
            now=now,
            audit_it=False,
        )
        if admin is not None:
            user.password_hash = admin.password_hash  # the demo users' shared password
        session.add(EditorScope(user_id=user.id, department_id=depts[scope] if scope else None))
    await session.flush()
