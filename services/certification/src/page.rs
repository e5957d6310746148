//! The verify page, `/verify/{code}` on the service's HTTP port: what a phone
//! shows after scanning a QR code. Vietnamese, one column, the same answer as
//! VerifyCertificate, green only when the certificate is valid.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ocop_kit::ErrorKind;
use ocop_proto::certification::v1::{Verification, VerificationStatus};
use ocop_proto::common::v1::Date;

use crate::grpc::Certification;
use crate::verify;

/// The page's routes.
pub fn router(svc: Certification) -> Router {
    Router::new().route("/verify/{code}", get(page)).with_state(svc)
}

async fn page(
    State(svc): State<Certification>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(code): Path<String>,
) -> Response {
    match verify::verify(&svc, &code, Some(peer.ip())).await {
        Ok(v) => html(StatusCode::OK, &render(&v)),
        Err(e) if e.kind() == ErrorKind::ResourceExhausted => {
            let mut response = html(
                StatusCode::TOO_MANY_REQUESTS,
                &shell(
                    "Quá nhiều yêu cầu",
                    "wait",
                    "Bạn đã tra cứu quá nhiều lần. Vui lòng thử lại sau ít giây.",
                    "",
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(e) if e.kind() == ErrorKind::InvalidArgument => html(
            StatusCode::BAD_REQUEST,
            &shell(
                "Mã không hợp lệ",
                "bad",
                &format!(
                    "«{}» không phải là mã chứng nhận OCOP. Mã có dạng 38-K7M9Q2XA.",
                    escape(&code)
                ),
                "",
            ),
        ),
        Err(_) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            &shell(
                "Tạm thời không tra cứu được",
                "wait",
                "Hệ thống đang bận. Vui lòng thử lại sau.",
                "",
            ),
        ),
    }
}

fn html(status: StatusCode, body: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_owned(),
    )
        .into_response()
}

fn day(date: &Option<Date>) -> String {
    date.as_ref()
        .map(|d| format!("{:02}/{:02}/{}", d.day, d.month, d.year))
        .unwrap_or_default()
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page for a verification.
pub fn render(v: &Verification) -> String {
    let (title, class, lead) = match v.status() {
        VerificationStatus::Valid => (
            "Còn hiệu lực",
            "ok",
            "Sản phẩm được chứng nhận OCOP và chứng nhận đang còn hiệu lực.",
        ),
        VerificationStatus::Expired => (
            "Đã hết hiệu lực",
            "bad",
            "Chứng nhận này đã hết thời hạn 36 tháng. Sản phẩm không còn được dùng sao OCOP.",
        ),
        VerificationStatus::Revoked => (
            "Đã bị thu hồi",
            "bad",
            "Chứng nhận này đã bị thu hồi. Sản phẩm không còn được dùng sao OCOP.",
        ),
        VerificationStatus::Superseded => (
            "Đã được thay thế",
            "bad",
            "Chứng nhận này đã được thay bằng một chứng nhận mới.",
        ),
        _ => (
            "Không tìm thấy",
            "bad",
            "Không có chứng nhận OCOP nào mang mã này. Hãy cẩn thận với hàng giả mạo.",
        ),
    };
    if v.status() == VerificationStatus::Unknown {
        return shell(
            title,
            class,
            lead,
            &format!("<p class=\"code\">Mã: {}</p>", escape(&v.code)),
        );
    }
    let stars = "★".repeat(v.stars.clamp(0, 5) as usize);
    let mut rows = vec![
        ("Sản phẩm", escape(&v.product_name)),
        ("Chủ thể", escape(&v.subject_name)),
        (
            "Hạng",
            format!(
                "<span class=\"stars\" aria-label=\"{} sao\">{stars}</span> {} sao",
                v.stars, v.stars
            ),
        ),
        ("Tỉnh, thành phố", escape(&v.province_name)),
        ("Quyết định", escape(&v.decision_reference)),
        ("Cơ quan cấp", escape(&v.authority_name)),
        ("Hiệu lực từ", day(&v.issue_date)),
        ("Hiệu lực đến hết ngày", day(&v.valid_until)),
        ("Mã chứng nhận", escape(&v.code)),
    ];
    if !v.superseded_by_code.is_empty() {
        rows.push((
            "Chứng nhận mới",
            format!("<a href=\"{0}\">{0}</a>", escape(&v.superseded_by_code)),
        ));
    }
    if !v.revocation_text.is_empty() {
        rows.push(("Lý do thu hồi", escape(&v.revocation_text)));
    }
    let table: String = rows
        .iter()
        .map(|(k, v)| format!("<div class=\"row\"><dt>{k}</dt><dd>{v}</dd></div>"))
        .collect();
    shell(title, class, lead, &format!("<dl>{table}</dl>"))
}

fn shell(title: &str, class: &str, lead: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OCOP: {title}</title>
<style>
body{{margin:0;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d1f23}}
main{{max-width:34rem;margin:0 auto;padding:1rem}}
.banner{{border-radius:12px;padding:1rem 1.2rem;color:#fff;margin-bottom:1rem}}
.ok{{background:#17803d}}.bad{{background:#b42318}}.wait{{background:#6b7280}}
.banner h1{{margin:0;font-size:1.6rem}}.banner p{{margin:.3rem 0 0}}
dl{{background:#fff;border-radius:12px;padding:.4rem 1.2rem;margin:0}}
.row{{padding:.55rem 0;border-bottom:1px solid #e5e7eb}}.row:last-child{{border:0}}
dt{{font-size:.85rem;color:#5b616e}}dd{{margin:0;font-weight:600;word-wrap:break-word}}
.stars{{color:#d99a00;letter-spacing:2px}}footer{{font-size:.8rem;color:#5b616e;margin-top:1rem}}
</style></head>
<body><main>
<div class="banner {class}" id="status" data-status="{class}"><h1>{title}</h1><p>{lead}</p></div>
{body}
<footer>Chương trình Mỗi xã một sản phẩm (OCOP). Tra cứu trực tiếp từ hệ thống của cơ quan cấp chứng nhận.</footer>
</main></body></html>
"#
    )
}
