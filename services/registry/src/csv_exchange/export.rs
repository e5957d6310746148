//! Writing a province's producers and products as a file import reads.

use std::collections::HashMap;

use ocop_kit::auth::{Principal, Role};
use ocop_kit::{Error, Result};

use super::COLUMNS;
use super::format::format_standards;
use crate::rules::access::require_own_province;
use crate::service::Registry;
use crate::{products, subjects};

/// Exports the caller's jurisdiction (or `province`) in the import format.
///
/// The export holds one of the service's export slots while it reads.
pub async fn export(svc: &Registry, who: &Principal, province: &str) -> Result<(Vec<u8>, i32)> {
    let _slot = svc.exports.enter().await?;
    let db = &svc.db;
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let province = match (who.role, province) {
        (Role::ProvinceOfficer, "") => who.province.clone().unwrap_or_default(),
        (Role::ProvinceOfficer, p) => {
            require_own_province(who, p, &format!("province {p}"))?;
            p.to_owned()
        }
        (_, p) => p.to_owned(),
    };
    let subjects = subjects::store::in_province(db, &province).await?;
    let products = products::store::in_province(db, &province).await?;
    let mut by_subject: HashMap<&str, Vec<&products::Row>> = HashMap::new();
    for p in &products {
        by_subject.entry(p.subject_id.as_str()).or_default().push(p);
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::internal(e);
    out.write_record(COLUMNS).map_err(fail)?;
    let mut rows = 0;
    for s in &subjects {
        let head = [
            s.id.as_str(),
            &s.registration_number,
            s.kind.as_str(),
            &s.legal_name,
            &s.representative_name,
            if s.representative_is_woman { "true" } else { "false" },
            if s.representative_is_ethnic_minority {
                "true"
            } else {
                "false"
            },
            &s.phone,
            &s.email,
            &s.address,
            &s.commune_code,
            s.state.as_str(),
        ];
        let list = by_subject.get(s.id.as_str()).cloned().unwrap_or_default();
        if list.is_empty() {
            out.write_record(head.iter().copied().chain(std::iter::repeat_n("", 9)))
                .map_err(fail)?;
            rows += 1;
        }
        for p in list {
            let standards = format_standards(&p.standards.0);
            let tail = [
                p.id.as_str(),
                &p.display_name,
                &p.group_code,
                &p.subgroup_code,
                &p.description,
                &p.origin_commune_code,
                &p.raw_material_area,
                p.state.as_str(),
                &standards,
            ];
            out.write_record(head.iter().copied().chain(tail)).map_err(fail)?;
            rows += 1;
        }
    }
    let bytes = out.into_inner().map_err(|e| Error::internal(e.to_string()))?;
    Ok((bytes, rows))
}
