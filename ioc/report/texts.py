"""User-facing words of the report, Vietnamese by default and English on request."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo tuần: vận hành và chất lượng dịch vụ",
        "week": "Tuần", "from_to": "từ {a} đến {b}", "generated": "Lập lúc",
        "summary": "Tóm tắt", "overall": "Đánh giá chung",
        "green": "Đạt", "amber": "Cần chú ý", "red": "Không đạt", "grey": "Không có dữ liệu",
        "systems": "Độ sẵn sàng và tốc độ theo hệ thống", "system": "Hệ thống",
        "availability": "Độ sẵn sàng", "objective": "Mục tiêu", "prev_week": "Tuần trước",
        "budget": "Ngân sách lỗi còn lại", "latency": "Độ trễ p95", "daily": "Theo ngày",
        "incidents": "Sự cố", "start": "Bắt đầu", "end": "Kết thúc", "duration": "Thời lượng",
        "tta": "Thời gian tiếp nhận", "severity": "Mức độ", "rule": "Cảnh báo",
        "ongoing": "đang diễn ra", "mtta": "MTTA (thời gian tiếp nhận trung bình)",
        "mttr": "MTTR (thời gian khắc phục trung bình)", "no_incidents": "Không có sự cố.",
        "indicators": "Bộ chỉ số 766 (Quyết định 766/QĐ-TTg)", "indicator": "Chỉ số",
        "rate": "Tỷ lệ", "score": "Điểm", "max": "Tối đa", "total": "Tổng điểm",
        "trend": "Xu hướng",
        "payments": "Thanh toán và đối soát", "intermediary": "Đơn vị trung gian",
        "success_rate": "Tỷ lệ giao dịch thành công", "lag": "Độ trễ quyết toán (ngày)",
        "match_rate": "Tỷ lệ đối soát khớp", "breaks": "Chênh lệch chưa xử lý",
        "unmatched": "Số tiền chưa khớp", "oldest": "Chênh lệch lâu nhất (ngày)",
        "pending": "Giao dịch đang chờ tệp đối soát (chưa tính vào tỷ lệ khớp): {n}",
        "break.missing_intermediary": "thiếu trong tệp của đơn vị trung gian",
        "break.missing_treasury": "thiếu trong sao kê Kho bạc",
        "break.duplicate": "trùng lặp", "break.amount_mismatch": "lệch số tiền",
        "break.code_mismatch": "lệch mã hồ sơ hoặc mã thanh toán",
        "break.dossier_not_updated": "đã thanh toán nhưng hồ sơ chưa cập nhật",
        "documents": "Văn bản điện tử", "signing_rate": "Văn bản đi được ký số",
        "electronic_rate": "Văn bản đến điện tử", "national_axis_rate": "Qua Trục liên thông",
        "overdue": "Văn bản quá hạn",
        "slowest": "Thủ tục và cơ quan chậm nhất", "procedure": "Thủ tục",
        "days": "Số ngày làm việc TB", "count": "Số hồ sơ", "agency": "Cơ quan",
        "on_time": "Tỷ lệ đúng hạn", "late": "Trễ hạn",
        "no_data": "không có dữ liệu", "changes": "Thay đổi so với phiên bản trước",
        "version": "Phiên bản",
        "portal": "Cổng dịch vụ công", "payments_sys": "Thanh toán trực tuyến",
        "documents_sys": "Quản lý văn bản và điều hành",
        "i1.4": "Đồng bộ hồ sơ lên Cổng DVCQG", "i2.1": "Giải quyết trước hạn, đúng hạn",
        "i2.2": "Thời gian giải quyết", "i3.3": "Hồ sơ trực tuyến",
        "i3.6": "Thanh toán trực tuyến", "i4.1": "Cấp kết quả điện tử",
        "i4.2": "Số hóa hồ sơ", "i5.4": "Mức độ hài lòng",
        "i2.2_value": "{days} ngày làm việc ({pct} % thời hạn)",
        "allowed": "Thời hạn (ngày làm việc)", "vs_allowed": "So với thời hạn",
        "slowest_rule": "Thủ tục xếp theo thời gian giải quyết trung bình so với thời hạn của "
                        "thủ tục; cơ quan xếp theo tỷ lệ đúng hạn. Chỉ tính thủ tục, cơ quan có "
                        "từ {n} hồ sơ trở lên trong tuần.",
        "trend_note": "▲ tăng, ▼ giảm so với tuần trước.",
        "code": "Mã", "name": "Tên", "rank": "Hạng",
        "notes": "Ghi chú", "window": "Khoảng thời gian (giờ Việt Nam)", "figure": "Chỉ tiêu",
        "definition": "Định nghĩa (công thức)", "unit": "Đơn vị", "source": "Nguồn dữ liệu",
        "def_rule": "Quy tắc", "value": "Giá trị", "numerator": "Tử số",
        "denominator": "Mẫu số", "light": "Đánh giá", "minutes": "phút",
        "summary_col": "Nội dung", "reconciliation": "Đối soát",
        "slow_procedures": "Thủ tục chậm nhất", "slow_agencies": "Cơ quan chậm nhất",
        "sheet.systems": "Hệ thống", "sheet.indicators": "Chỉ số 766",
        "sheet.payments": "Thanh toán", "sheet.documents": "Văn bản",
        "number_note": "Số liệu là số thực: Excel hiển thị dấu thập phân theo thiết lập vùng "
                       "của máy (tiếng Việt: dấu phẩy); tỷ lệ lưu dạng phân số 0–1, hiển thị %.",
        "label.system": "Hệ thống", "label.target": "Đối tượng giám sát",
        "label.agency": "Cơ quan", "label.procedure": "Thủ tục",
        "label.intermediary": "Đơn vị trung gian", "label.indicator": "Chỉ số",
        "label.objective": "Mục tiêu", "label.kind": "Loại", "label.error_code": "Mã lỗi",
        "label.class": "Tình trạng", "label.channel": "Kênh",
        "note_22": "Với chỉ số 2.2, cột Tỷ lệ là thời gian giải quyết so với thời hạn cho phép "
                   "(tỷ lệ được chấm điểm, càng thấp càng tốt).",
        "label_name.agency": "Tên cơ quan", "label_name.procedure": "Tên thủ tục",
        "label_name.intermediary": "Tên đơn vị trung gian",
        "mail_body": "Kính gửi {name},\n\nXin gửi kèm báo cáo tuần {week} của Trung tâm Giám sát, "
                     "điều hành thông minh.\nĐánh giá chung: {light}.\n\nTrân trọng.",
    },
    "en": {
        "title": "Weekly report: operations and service quality",
        "week": "Week", "from_to": "from {a} to {b}", "generated": "Generated",
        "summary": "Summary", "overall": "Overall",
        "green": "Met", "amber": "Watch", "red": "Missed", "grey": "No data",
        "systems": "Availability and speed by system", "system": "System",
        "availability": "Availability", "objective": "Objective", "prev_week": "Last week",
        "budget": "Error budget left", "latency": "Latency p95", "daily": "Daily",
        "incidents": "Incidents", "start": "Start", "end": "End", "duration": "Duration",
        "tta": "Time to acknowledge", "severity": "Severity", "rule": "Alert",
        "ongoing": "ongoing", "mtta": "MTTA (mean time to acknowledge)",
        "mttr": "MTTR (mean time to resolve)", "no_incidents": "No incidents.",
        "indicators": "Decision 766 indicators", "indicator": "Indicator",
        "rate": "Rate", "score": "Score", "max": "Max", "total": "Total score",
        "trend": "Trend",
        "payments": "Payments and reconciliation", "intermediary": "Intermediary",
        "success_rate": "Payment success rate", "lag": "Settlement lag (days)",
        "match_rate": "Reconciliation match rate", "breaks": "Open breaks",
        "unmatched": "Unmatched amount", "oldest": "Oldest break (days)",
        "pending": "Transactions awaiting reconciliation files (not in the match rate yet): {n}",
        "break.missing_intermediary": "missing from the intermediary's file",
        "break.missing_treasury": "missing from the Treasury statement",
        "break.duplicate": "duplicated", "break.amount_mismatch": "amount differs",
        "break.code_mismatch": "dossier or payment code differs",
        "break.dossier_not_updated": "paid but dossier not updated",
        "documents": "Electronic documents", "signing_rate": "Outgoing digitally signed",
        "electronic_rate": "Incoming electronic", "national_axis_rate": "Via the national axis",
        "overdue": "Overdue documents",
        "slowest": "Slowest procedures and agencies", "procedure": "Procedure",
        "days": "Mean working days", "count": "Dossiers", "agency": "Agency",
        "on_time": "On-time rate", "late": "Late",
        "no_data": "no data", "changes": "Changes from the previous version",
        "version": "Version",
        "portal": "Public-service portal", "payments_sys": "Payment gateway",
        "documents_sys": "Electronic document system",
        "i1.4": "Dossier sync to the national portal", "i2.1": "On-time (early + on time)",
        "i2.2": "Processing time", "i3.3": "Online dossiers", "i3.6": "Online payment",
        "i4.1": "Electronic results", "i4.2": "Digitisation", "i5.4": "Satisfaction",
        "i2.2_value": "{days} working days ({pct} % of the allowed time)",
        "allowed": "Allowed (working days)", "vs_allowed": "Against allowed time",
        "slowest_rule": "Procedures ranked by their mean processing time against the time "
                        "allowed for them; agencies by their on-time rate. Only procedures and "
                        "agencies with at least {n} dossiers in the week.",
        "trend_note": "▲ up, ▼ down against last week.",
        "code": "Code", "name": "Name", "rank": "Rank",
        "notes": "Notes", "window": "Window (Vietnam time)", "figure": "Figure",
        "definition": "Definition (formula)", "unit": "Unit", "source": "Source",
        "def_rule": "Rule", "value": "Value", "numerator": "Numerator",
        "denominator": "Denominator", "light": "Assessment", "minutes": "min",
        "summary_col": "Summary", "reconciliation": "Reconciliation",
        "slow_procedures": "Slowest procedures", "slow_agencies": "Slowest agencies",
        "sheet.systems": "Systems", "sheet.indicators": "Decision 766",
        "sheet.payments": "Payments", "sheet.documents": "Documents",
        "number_note": "Figures are real numbers: Excel shows the decimal separator of the "
                       "computer's regional settings; rates are fractions 0-1 shown as %.",
        "label.system": "System", "label.target": "Target", "label.agency": "Agency",
        "label.procedure": "Procedure", "label.intermediary": "Intermediary",
        "label.indicator": "Indicator", "label.objective": "Objective", "label.kind": "Kind",
        "label.error_code": "Error code", "label.class": "Class", "label.channel": "Channel",
        "note_22": "For indicator 2.2 the Rate column is the processing time against the time "
                   "allowed (the scored rate, lower is better).",
        "label_name.agency": "Agency name", "label_name.procedure": "Procedure name",
        "label_name.intermediary": "Intermediary name",
        "mail_body": "Dear {name},\n\nPlease find attached the weekly report {week} of the "
                     "smart operations centre.\nOverall: {light}.\n\nBest regards.",
    },
}


# Payment intermediaries by their usual written names. The portal has no intermediary catalogue
# (dossiers and transactions carry a code only), and the codes in use are few and national, so a
# fixed map is kept here rather than asking each province to configure it; an unknown code is
# shown as it is.
INTERMEDIARY_NAMES: dict[str, str] = {
    "vnpay": "VNPAY", "momo": "MoMo", "vnptpay": "VNPT Pay", "viettelmoney": "Viettel Money",
    "zalopay": "ZaloPay", "shopeepay": "ShopeePay", "vietcombank": "Vietcombank",
    "vietinbank": "VietinBank", "bidv": "BIDV", "agribank": "Agribank", "napas": "NAPAS",
    "paygov": "PayGov", "keypay": "KeyPay",
}


def intermediary_name(code: str) -> str | None:
    """The written name of a payment intermediary code (None when unknown)."""
    return INTERMEDIARY_NAMES.get(code.strip().lower())


def texts(language: str) -> dict[str, str]:
    """The words of one language ('vi' or 'en')."""
    if language not in TEXTS:
        raise ValueError(f"report language {language!r}: use vi or en")
    return TEXTS[language]
