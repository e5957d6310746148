//! The verify page, `/verify/{code}` on the service's HTTP port: what a phone
//! shows after scanning a QR code. Vietnamese, one column, the same answer as
//! VerifyCertificate, green only when the certificate is valid.
//!
//! A page that is not valid must not look valid at a glance: a revoked,
//! expired or superseded certificate shows its state first, large, in red or
//! grey, and neither gold stars nor a "valid until" line anywhere. Every
//! answer of the page forbids framing (no valid-looking page inside a
//! forger's site), sniffing and any script.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use ocop_kit::ErrorKind;
use ocop_proto::certification::v1::{Verification, VerificationStatus};
use ocop_proto::common::v1::Date;
use sha2::Digest;

use crate::service::Certification;
use crate::verify;

/// The page's routes. The guard headers go on every answer, refusals and
/// the router's own (405, a rejected path) included.
pub fn router(svc: Certification) -> Router {
    Router::new()
        .route("/verify/{code}", get(page))
        .layer(axum::middleware::map_response(guard))
        .with_state(svc)
}

/// The page's only style sheet, inline (one request on a slow phone), allowed
/// by its hash: nothing else may style, script or frame the page.
const STYLE: &str = concat!(
    "body{margin:0;font:17px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;background:#f4f5f7;color:#1d1f23}",
    "main{max-width:34rem;margin:0 auto;padding:1rem}",
    ".banner{border-radius:12px;padding:1rem 1.2rem;color:#fff;margin-bottom:1rem}",
    ".ok{background:#17803d}.bad{background:#b42318}.void{background:#4b5563}.wait{background:#6b7280}",
    ".banner h1{margin:0;font-size:1.6rem}.banner p{margin:.3rem 0 0}",
    ".bad h1,.void h1{font-size:2.4rem;line-height:1.15;text-transform:uppercase}",
    "dl{background:#fff;border-radius:12px;padding:.4rem 1.2rem;margin:0}",
    ".row{padding:.55rem 0;border-bottom:1px solid #e5e7eb}.row:last-child{border:0}",
    "dt{font-size:.85rem;color:#5b616e}dd{margin:0;font-weight:600;word-wrap:break-word}",
    ".stars{color:#d99a00;letter-spacing:2px}h2{font-size:1rem;color:#5b616e;margin:1.2rem 0 .4rem}",
    "footer{font-size:.8rem;color:#5b616e;margin-top:1rem}",
);

/// The Content-Security-Policy of every answer of the page.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// Adds the guard headers to an answer of the page.
async fn guard(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // For browsers that predate frame-ancestors.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The address names the certificate; the sites it links to need not know.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn page(
    State(svc): State<Certification>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let client = svc.limiter.proxies().client(peer.ip(), &headers);
    match verify::verify(&svc, &code, Some(client)).await {
        Ok(v) => html(StatusCode::OK, &render(&v)),
        Err(e) if e.kind() == ErrorKind::ResourceExhausted => {
            let retry_s = e.retry_after().map_or(1, |d| d.as_secs_f64().ceil().max(1.0) as u64);
            let mut response = html(
                StatusCode::TOO_MANY_REQUESTS,
                &shell(
                    "Quá nhiều yêu cầu",
                    "wait",
                    "",
                    "Bạn đã tra cứu quá nhiều lần. Vui lòng thử lại sau ít giây.",
                    "",
                ),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_s));
            response
        }
        Err(e) if e.kind() == ErrorKind::InvalidArgument => html(
            StatusCode::BAD_REQUEST,
            &shell(
                "Mã không hợp lệ",
                "bad",
                "",
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
                "",
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
    let status = v.status();
    let (title, class, lead) = match status {
        VerificationStatus::Valid => (
            "Còn hiệu lực",
            "ok",
            "Sản phẩm được chứng nhận OCOP và chứng nhận đang còn hiệu lực.",
        ),
        VerificationStatus::Expired => (
            "Đã hết hiệu lực",
            "void",
            "Chứng nhận này đã hết thời hạn 36 tháng. Sản phẩm không còn được dùng sao OCOP.",
        ),
        VerificationStatus::Revoked => (
            "Đã bị thu hồi",
            "bad",
            "Chứng nhận này đã bị thu hồi. Sản phẩm không còn được dùng sao OCOP.",
        ),
        VerificationStatus::Superseded => (
            "Đã được thay thế",
            "void",
            "Chứng nhận này không còn giá trị: đã được thay bằng một chứng nhận mới.",
        ),
        _ => (
            "Không tìm thấy",
            "bad",
            "Không có chứng nhận OCOP nào mang mã này. Hãy cẩn thận với hàng giả mạo.",
        ),
    };
    let state = state_name(status);
    if status == VerificationStatus::Unknown {
        let body = format!("<p class=\"code\">Mã: {}</p>", escape(&v.code));
        return shell(title, class, state, lead, &body);
    }
    if status != VerificationStatus::Valid {
        return shell(title, class, state, lead, &void_details(v));
    }
    let stars = "★".repeat(v.stars.clamp(0, 5) as usize);
    // Extended under Điều 12.3: the 36 months are not its end, the
    // re-rating's result is (at most the day the note names).
    let (lead, until) = if v.validity_note.is_empty() {
        (lead, vec![("Hiệu lực đến hết ngày", day(&v.valid_until))])
    } else {
        (
            "Sản phẩm được chứng nhận OCOP. Chứng nhận được gia hạn trong khi chờ kết quả đánh giá, phân hạng lại.",
            vec![
                ("Hết thời hạn 36 tháng vào ngày", day(&v.valid_until)),
                ("Hiệu lực", escape(&v.validity_note)),
            ],
        )
    };
    let rows = [
        vec![
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
        ],
        until,
        vec![("Mã chứng nhận", escape(&v.code))],
    ]
    .concat();
    shell(title, class, state, lead, &table(&rows))
}

/// What a certificate that is no longer valid still tells: why first (the
/// revocation's reason, the certificate in force instead), then the old
/// facts under a heading that says so, with its rank as plain words.
fn void_details(v: &Verification) -> String {
    let mut first = Vec::new();
    if !v.revocation_text.is_empty() {
        first.push(("Lý do thu hồi", escape(&v.revocation_text)));
    }
    let ground = crate::rules::grounds::cited(v.revocation_ground());
    if !ground.is_empty() {
        first.push(("Căn cứ thu hồi", escape(ground)));
    }
    if !v.superseded_by_code.is_empty() {
        first.push((
            "Chứng nhận mới",
            format!("<a href=\"{0}\">{0}</a>", escape(&v.superseded_by_code)),
        ));
    }
    let mut ended = vec![("Cấp ngày", day(&v.issue_date))];
    if v.status() == VerificationStatus::Expired {
        // The end of an extension, when it was extended.
        let last = v.extended_until.or(v.valid_until);
        ended.push(("Hết hạn sau ngày", day(&last)));
    }
    let old = [
        vec![
            ("Sản phẩm", escape(&v.product_name)),
            ("Chủ thể", escape(&v.subject_name)),
            ("Hạng đã được cấp", format!("{} sao (không còn được dùng)", v.stars)),
            ("Tỉnh, thành phố", escape(&v.province_name)),
            ("Quyết định", escape(&v.decision_reference)),
            ("Cơ quan cấp", escape(&v.authority_name)),
        ],
        ended,
        vec![("Mã chứng nhận", escape(&v.code))],
    ]
    .concat();
    let why = if first.is_empty() { String::new() } else { table(&first) };
    format!(
        "{why}<h2>Thông tin của chứng nhận (không còn giá trị)</h2>{}",
        table(&old)
    )
}

/// The verification's state, as the page's `data-state` names it.
fn state_name(status: VerificationStatus) -> &'static str {
    match status {
        VerificationStatus::Valid => "valid",
        VerificationStatus::Expired => "expired",
        VerificationStatus::Revoked => "revoked",
        VerificationStatus::Superseded => "superseded",
        _ => "unknown",
    }
}

fn table(rows: &[(&str, String)]) -> String {
    let rows: String = rows
        .iter()
        .map(|(k, v)| format!("<div class=\"row\"><dt>{k}</dt><dd>{v}</dd></div>"))
        .collect();
    format!("<dl>{rows}</dl>")
}

fn shell(title: &str, class: &str, state: &str, lead: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OCOP: {title}</title>
<style>{STYLE}</style></head>
<body><main>
<div class="banner {class}" id="status" data-status="{class}" data-state="{state}"><h1>{title}</h1><p>{lead}</p></div>
{body}
<footer>Chương trình Mỗi xã một sản phẩm (OCOP). Tra cứu trực tiếp từ hệ thống của cơ quan cấp chứng nhận.</footer>
</main></body></html>
"#
    )
}
