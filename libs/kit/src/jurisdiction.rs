//! Whose data a deployment writes, checked once for every service.
//!
//! A province deployment owns exactly its province: nothing of another
//! province is written there, whatever a token says (a token is signed by
//! the deployment's issuer, which may serve officers of several provinces,
//! and the reference data holds every province's communes). The national
//! deployment writes only national things (central rounds, 5-star
//! certificates); a province's data reaches it through the province's feeds.
//!
//! So a write of a province's data passes two checks, in this order:
//! the deployment serves that province ([`OUTSIDE_DEPLOYMENT`]), then the
//! caller's token is for it ([`OUTSIDE_JURISDICTION`]).

use crate::auth::Principal;
use crate::config::{DeploymentConfig, DeploymentRole};
use crate::error::{Error, Result};

/// Reason of a write for a province this deployment does not serve.
pub const OUTSIDE_DEPLOYMENT: &str = "OUTSIDE_DEPLOYMENT";
/// Reason of a write for a province the caller's token is not for.
pub const OUTSIDE_JURISDICTION: &str = "OUTSIDE_JURISDICTION";

/// The province whose data this deployment writes: its own on a province
/// deployment, none on the national one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jurisdiction {
    own: Option<String>,
}

impl Jurisdiction {
    /// The jurisdiction of the configured deployment.
    pub fn of(deployment: &DeploymentConfig) -> Jurisdiction {
        match deployment.role {
            DeploymentRole::Province => Jurisdiction {
                // The configuration refuses a province deployment without a
                // province; an empty one here would serve nothing.
                own: Some(deployment.province_code.clone().unwrap_or_default()),
            },
            DeploymentRole::National => Jurisdiction::national(),
        }
    }

    /// A province deployment of `code`.
    pub fn province(code: impl Into<String>) -> Jurisdiction {
        Jurisdiction { own: Some(code.into()) }
    }

    /// The national deployment.
    pub fn national() -> Jurisdiction {
        Jurisdiction { own: None }
    }

    /// The province served, on a province deployment.
    pub fn own_province(&self) -> Option<&str> {
        self.own.as_deref()
    }

    /// Whether this is the national deployment.
    pub fn is_national(&self) -> bool {
        self.own.is_none()
    }

    /// PERMISSION_DENIED ([`OUTSIDE_DEPLOYMENT`]) unless this deployment
    /// writes `province`'s data.
    pub fn require_serves(&self, province: &str) -> Result<()> {
        let message = match self.own.as_deref() {
            Some(own) if own == province => return Ok(()),
            Some(own) => format!(
                "this deployment serves province {own}; province {}'s data is written on its own deployment",
                shown(province)
            ),
            None => format!(
                "the national deployment writes no province's data; province {}'s data is written on its own \
                 deployment and reaches this one through its feeds",
                shown(province)
            ),
        };
        let err = Error::permission_denied(OUTSIDE_DEPLOYMENT, message).with_metadata("province_code", province);
        Err(match self.own.as_deref() {
            Some(own) => err.with_metadata("deployment_province_code", own),
            None => err,
        })
    }

    /// A write of `what`, data of `province`: this deployment must serve the
    /// province ([`OUTSIDE_DEPLOYMENT`]) and the caller's token must be for it
    /// ([`OUTSIDE_JURISDICTION`]). The role is the caller's to check first.
    pub fn require_province(&self, who: &Principal, province: &str, what: &str) -> Result<()> {
        self.require_serves(province)?;
        require_caller(who, province, what)
    }

    /// The province a write of `what` names in `asked` (a request's
    /// `province_code`; empty for the caller's own), checked as
    /// [`Jurisdiction::require_province`]: another province is refused, never
    /// silently replaced by the caller's.
    pub fn require_named(&self, who: &Principal, asked: &str, what: &str) -> Result<String> {
        let province = match asked.trim() {
            "" => who.province.clone().unwrap_or_default(),
            named => named.to_owned(),
        };
        self.require_province(who, &province, what)?;
        Ok(province)
    }
}

/// PERMISSION_DENIED ([`OUTSIDE_JURISDICTION`]) unless the caller's token is
/// for `province`, which `what` belongs to. The caller half of
/// [`Jurisdiction::require_province`], alone for what only a token limits
/// (reading one's own province's export).
pub fn require_caller(who: &Principal, province: &str, what: &str) -> Result<()> {
    if who.province.as_deref() == Some(province) {
        return Ok(());
    }
    Err(Error::permission_denied(
        OUTSIDE_JURISDICTION,
        format!(
            "{what} belongs to province {}; your token is for {}",
            shown(province),
            who.province
                .as_deref()
                .map_or("no province".to_owned(), |p| format!("province {p}"))
        ),
    )
    .with_metadata("province_code", province))
}

/// A province code for a message; an empty one is named as such.
fn shown(province: &str) -> &str {
    if province.is_empty() { "(none)" } else { province }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::error::ErrorKind;

    fn officer(province: &str) -> Principal {
        Principal {
            subject: "lan".into(),
            role: Role::ProvinceOfficer,
            province: Some(province.into()),
            commune: None,
        }
    }

    fn reason(r: Result<()>) -> Option<(ErrorKind, &'static str)> {
        r.err().map(|e| (e.kind(), e.reason()))
    }

    #[test]
    fn a_province_deployment_writes_only_its_province() {
        let thanh_hoa = Jurisdiction::province("38");
        assert_eq!(reason(thanh_hoa.require_province(&officer("38"), "38", "x")), None);
        let denied = Some((ErrorKind::PermissionDenied, OUTSIDE_DEPLOYMENT));
        // Phú Thọ's officer writing Phú Thọ's data, on Thanh Hóa's deployment.
        assert_eq!(reason(thanh_hoa.require_province(&officer("25"), "25", "x")), denied);
        assert_eq!(reason(thanh_hoa.require_province(&officer("38"), "25", "x")), denied);
        let err = thanh_hoa.require_serves("25").unwrap_err();
        assert_eq!(
            err.message(),
            "this deployment serves province 38; province 25's data is written on its own deployment"
        );
        // The deployment's own data, with another province's token.
        assert_eq!(
            reason(thanh_hoa.require_province(&officer("01"), "38", "x")),
            Some((ErrorKind::PermissionDenied, OUTSIDE_JURISDICTION))
        );
    }

    #[test]
    fn a_named_province_is_checked_not_replaced() {
        let thanh_hoa = Jurisdiction::province("38");
        assert_eq!(thanh_hoa.require_named(&officer("38"), "", "x").unwrap(), "38");
        assert_eq!(thanh_hoa.require_named(&officer("38"), " 38 ", "x").unwrap(), "38");
        let err = thanh_hoa.require_named(&officer("38"), "25", "x").unwrap_err();
        assert_eq!(err.reason(), OUTSIDE_DEPLOYMENT);
        let err = thanh_hoa.require_named(&officer("25"), "", "x").unwrap_err();
        assert_eq!(err.reason(), OUTSIDE_DEPLOYMENT);
    }

    #[test]
    fn the_national_deployment_writes_no_province_data() {
        let national = Jurisdiction::national();
        assert!(national.is_national());
        assert_eq!(
            reason(national.require_province(&officer("46"), "46", "x")),
            Some((ErrorKind::PermissionDenied, OUTSIDE_DEPLOYMENT))
        );
    }

    #[test]
    fn built_from_the_configuration() {
        let config = DeploymentConfig::default();
        assert_eq!(Jurisdiction::of(&config).own_province(), Some("38"));
        let national = DeploymentConfig {
            role: DeploymentRole::National,
            province_code: None,
        };
        assert!(Jurisdiction::of(&national).is_national());
    }
}
