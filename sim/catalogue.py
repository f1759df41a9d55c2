"""The simulated province's fixed reference data: agencies, procedures, payment intermediaries.

The province ("tỉnh Sơn Hà", code H99) is fictional; procedure names, deadlines (working days)
and fees are modelled on real one-stop catalogues so the data reads true to local staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PROVINCE_NAME = "tỉnh Sơn Hà"
PROVINCE_CODE = "H99"

Level = Literal["full", "partial"]
AgencyKind = Literal["department", "commune"]


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    kind: AgencyKind
    weight: float = 1.0  # share of the commune-level workload (communes only)


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    agency_code: str | None  # None: handled by every commune
    level: Level
    deadline_days: int  # statutory deadline in working days
    fee: int  # VND, 0 when free
    weight: float  # relative popularity

    @property
    def agency_kind(self) -> AgencyKind:
        return "commune" if self.agency_code is None else "department"


@dataclass(frozen=True)
class Intermediary:
    code: str
    name: str
    weight: float  # share of online payments
    success_rate: float
    latency_median_ms: float
    latency_sigma: float  # of the log-normal latency


def _dept(n: int, name: str) -> Agency:
    return Agency(f"000.00.{n:02d}.{PROVINCE_CODE}", name, "department")


def _commune(n: int, name: str, weight: float) -> Agency:
    return Agency(f"000.{n:02d}.30.{PROVINCE_CODE}", name, "commune", weight)


DEPARTMENTS: tuple[Agency, ...] = (
    _dept(10, "Sở Tư pháp"),
    _dept(11, "Sở Tài chính"),
    _dept(12, "Sở Xây dựng"),
    _dept(13, "Sở Nông nghiệp và Môi trường"),
    _dept(14, "Sở Công Thương"),
    _dept(15, "Sở Y tế"),
    _dept(16, "Sở Giáo dục và Đào tạo"),
    _dept(17, "Sở Văn hóa, Thể thao và Du lịch"),
    _dept(18, "Sở Nội vụ"),
    _dept(19, "Sở Khoa học và Công nghệ"),
)

COMMUNES: tuple[Agency, ...] = (
    _commune(1, "UBND phường Sơn Hà", 3.0),
    _commune(2, "UBND phường Bắc Sơn", 2.5),
    _commune(3, "UBND phường Nam Hà", 2.5),
    _commune(4, "UBND phường Quang Trung", 2.0),
    _commune(5, "UBND phường Đồng Tiến", 2.0),
    _commune(6, "UBND xã Hương Sơn", 1.2),
    _commune(7, "UBND xã Thanh Hà", 1.2),
    _commune(8, "UBND xã Đông Phong", 1.0),
    _commune(9, "UBND xã Lạc Thủy", 1.0),
    _commune(10, "UBND xã Kim Bôi", 0.9),
    _commune(11, "UBND xã Cao Phong", 0.9),
    _commune(12, "UBND xã Bình Minh", 0.8),
    _commune(13, "UBND xã Yên Thế", 0.8),
    _commune(14, "UBND xã Tân Lập", 0.7),
    _commune(15, "UBND xã Mường Khến", 0.6),
    _commune(16, "UBND xã Phú Thành", 0.6),
    _commune(17, "UBND xã Hòa Lạc", 0.5),
    _commune(18, "UBND xã Ngọc Lâu", 0.4),
)

AGENCIES: tuple[Agency, ...] = DEPARTMENTS + COMMUNES


def _d(n: int) -> str:
    return DEPARTMENTS[n].code


def _p(code: str, name: str, agency: str | None, level: Level, days: int, fee: int,
       weight: float) -> Procedure:
    return Procedure(code, name, agency, level, days, fee, weight)


PROCEDURES: tuple[Procedure, ...] = (
    # Commune level (every commune handles these).
    _p("1.001193", "Đăng ký khai sinh", None, "full", 1, 0, 10),
    _p("1.000894", "Đăng ký kết hôn", None, "partial", 1, 0, 3),
    _p("1.000656", "Đăng ký khai tử", None, "full", 1, 0, 2),
    _p("2.000908", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền "
       "của Việt Nam cấp", None, "partial", 1, 10_000, 25),
    _p("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", None, "partial", 1, 10_000, 8),
    _p("2.001035", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản, quyền sử "
       "dụng đất và nhà ở", None, "partial", 2, 50_000, 4),
    _p("1.004873", "Cấp bản sao trích lục hộ tịch", None, "full", 1, 8_000, 5),
    _p("1.004746", "Cấp Giấy xác nhận tình trạng hôn nhân", None, "full", 3, 0, 5),
    _p("1.010816", "Liên thông thủ tục đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm "
       "y tế cho trẻ em dưới 6 tuổi", None, "full", 5, 0, 3),
    _p("2.000575", "Đăng ký thành lập hộ kinh doanh", None, "full", 3, 100_000, 3),
    _p("1.003024", "Cấp giấy phép xây dựng nhà ở riêng lẻ", None, "partial", 15, 75_000, 2),
    _p("1.001612", "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng", None,
       "partial", 15, 0, 1.5),
    _p("1.001022", "Đăng ký nhận cha, mẹ, con", None, "partial", 3, 0, 0.5),
    # Provincial departments.
    _p("2.001417", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư "
       "trú tại Việt Nam", _d(0), "full", 10, 200_000, 4),
    _p("1.008891", "Đăng ký hoạt động Văn phòng công chứng", _d(0), "partial", 10, 1_000_000, 0.1),
    _p("2.001610", "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên", _d(1), "full",
       3, 50_000, 2),
    _p("2.002035", "Đăng ký thành lập công ty cổ phần", _d(1), "full", 3, 50_000, 0.8),
    _p("2.001199", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", _d(1), "full", 3, 50_000, 3),
    _p("2.001583", "Thông báo tạm ngừng kinh doanh, tiếp tục kinh doanh trước thời hạn đã thông "
       "báo", _d(1), "full", 3, 0, 1),
    _p("1.005387", "Đăng ký mã số đơn vị có quan hệ với ngân sách", _d(1), "full", 2, 0, 0.5),
    _p("1.009972", "Cấp giấy phép xây dựng mới đối với công trình cấp đặc biệt, cấp I, cấp II",
       _d(2), "partial", 20, 150_000, 0.3),
    _p("1.002804", "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", _d(2), "full", 5,
       135_000, 6),
    _p("1.009942", "Cấp chứng chỉ hành nghề hoạt động xây dựng hạng II, hạng III", _d(2), "full",
       20, 300_000, 0.5),
    _p("1.004227", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
       _d(3), "partial", 10, 50_000, 6),
    _p("1.012753", "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền "
       "với đất lần đầu", _d(3), "partial", 20, 100_000, 2),
    _p("1.004217", "Cấp đổi Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với "
       "đất", _d(3), "partial", 7, 50_000, 2),
    _p("1.003010", "Đăng ký thế chấp quyền sử dụng đất, tài sản gắn liền với đất", _d(3), "full",
       1, 80_000, 3),
    _p("1.003298", "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm nông, lâm, thủy sản",
       _d(3), "partial", 15, 700_000, 0.3),
    _p("2.000591", "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm thuộc thẩm quyền của "
       "Sở Công Thương", _d(4), "partial", 20, 1_000_000, 0.3),
    _p("2.000636", "Cấp Giấy phép bán lẻ sản phẩm rượu", _d(4), "full", 10, 1_200_000, 0.3),
    _p("1.004599", "Cấp chứng chỉ hành nghề dược", _d(5), "partial", 20, 500_000, 0.5),
    _p("1.012270", "Cấp giấy phép hành nghề khám bệnh, chữa bệnh", _d(5), "partial", 20, 360_000,
       0.5),
    _p("1.005092", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", _d(6), "full", 1, 0, 1.5),
    _p("1.004831", "Chuyển trường đối với học sinh trung học phổ thông", _d(6), "full", 3, 0, 0.5),
    _p("1.001029", "Cấp Giấy phép đủ điều kiện kinh doanh dịch vụ karaoke", _d(7), "partial", 5,
       4_000_000, 0.2),
    _p("1.001432", "Cấp thẻ hướng dẫn viên du lịch nội địa", _d(7), "full", 10, 650_000, 0.2),
    _p("2.000205", "Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",
       _d(8), "full", 5, 600_000, 0.5),
    _p("1.001978", "Giải quyết hưởng trợ cấp thất nghiệp", _d(8), "partial", 20, 0, 1.5),
    _p("1.003639", "Cấp giấy phép tiến hành công việc bức xạ sử dụng thiết bị X-quang chẩn đoán "
       "trong y tế", _d(9), "partial", 20, 1_000_000, 0.2),
)

INTERMEDIARIES: tuple[Intermediary, ...] = (
    Intermediary("vnptpay", "VNPT Pay", 0.16, 0.975, 1400, 0.45),
    Intermediary("viettelmoney", "Viettel Money", 0.15, 0.972, 1300, 0.45),
    Intermediary("momo", "MoMo", 0.14, 0.982, 900, 0.40),
    Intermediary("vnpay", "VNPay", 0.20, 0.978, 1100, 0.40),
    Intermediary("vietcombank", "Vietcombank", 0.08, 0.985, 1700, 0.50),
    Intermediary("bidv", "BIDV", 0.06, 0.983, 1900, 0.50),
    Intermediary("agribank", "Agribank", 0.06, 0.965, 2400, 0.55),
    Intermediary("paygov", "PayGov (Nền tảng thanh toán trực tuyến quốc gia)", 0.15, 0.970, 2000,
                 0.50),
)

# Failure reasons of a payment attempt, with their relative frequency.
ERROR_CODES: tuple[tuple[str, str, float], ...] = (
    ("user_cancelled", "Người dùng hủy giao dịch", 0.38),
    ("insufficient_funds", "Tài khoản không đủ số dư", 0.17),
    ("otp_failed", "Xác thực OTP không thành công", 0.18),
    ("timeout", "Quá thời gian chờ phản hồi từ ngân hàng", 0.12),
    ("issuer_unavailable", "Ngân hàng phát hành tạm thời không phục vụ", 0.08),
    ("system_error", "Lỗi hệ thống trung gian thanh toán", 0.07),
)

AGENCY_BY_CODE = {a.code: a for a in AGENCIES}
PROCEDURE_BY_CODE = {p.code: p for p in PROCEDURES}
INTERMEDIARY_BY_CODE = {i.code: i for i in INTERMEDIARIES}
