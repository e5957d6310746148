//! `ocop call` for the steps of Decision 26/2026 that operators make by
//! hand: the commune's report (Mẫu 03), the chairman's approval and the
//! province's proposal of a nomination, a re-rating application, an
//! inspection and its outcome, the review of a revocation proposal, and a
//! revocation on a ground of Điều 8.1. Writes that need an etag read the
//! resource first when `--etag` is not given.

use clap::{Subcommand, ValueEnum};
use ocop_kit::config::Config;
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{
    CheckResult, CreateInspectionRequest, CreateReRatingApplicationRequest, GetCertificateRequest,
    GetInspectionRequest, Inspection, InspectionKind, RecordInspectionOutcomeRequest, ReviewRevocationProposalRequest,
    RevocationGround, RevokeCertificateRequest,
};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::{
    ApproveNominationRequest, CommuneReport, ProposeNominationRequest, ProvinceDecision, RecordCommuneReportRequest,
};

/// A `YYYY-MM-DD` argument.
fn date(s: &str) -> Result<Date, String> {
    ocop_kit::date::parse_iso("date", s)
        .map(ocop_kit::date::to_proto)
        .map_err(|_| format!("`{s}` is not a date YYYY-MM-DD"))
}

/// Periodic or ad hoc.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    /// An inspection of the plan.
    Periodic,
    /// An ad-hoc inspection (give `--reason`).
    AdHoc,
}

/// What one point of an inspection found.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Check {
    /// As certified.
    Compliant,
    /// Not as certified.
    NonCompliant,
    /// Not looked at.
    NotChecked,
}

impl Check {
    fn proto(self) -> i32 {
        (match self {
            Check::Compliant => CheckResult::Compliant,
            Check::NonCompliant => CheckResult::NonCompliant,
            Check::NotChecked => CheckResult::NotChecked,
        }) as i32
    }
}

/// The grounds of Điều 8.1 (a–e) and "another, by a competent authority's conclusion".
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Ground {
    /// a) Untruthful information or a forged dossier.
    FalseDossier,
    /// b) The criteria no longer met, by an inspection's conclusion.
    CriteriaNotMet,
    /// c) A violation of the law on quality, food safety, environment, IP or labelling.
    LawViolation,
    /// d) The OCOP mark used against the rules.
    MarkMisuse,
    /// đ) The product is no longer made (the commune's confirmation).
    ProductionStopped,
    /// e) Another case, on a competent authority's conclusion and proposal.
    OtherConclusion,
}

impl Ground {
    fn proto(self) -> i32 {
        (match self {
            Ground::FalseDossier => RevocationGround::FalseDossier,
            Ground::CriteriaNotMet => RevocationGround::CriteriaNotMet,
            Ground::LawViolation => RevocationGround::LawViolation,
            Ground::MarkMisuse => RevocationGround::MarkMisuse,
            Ground::ProductionStopped => RevocationGround::ProductionStopped,
            Ground::OtherConclusion => RevocationGround::OtherConclusion,
        }) as i32
    }
}

/// The calls of Decision 26/2026's procedure.
#[derive(Subcommand)]
pub(crate) enum Procedure {
    /// evaluation.RecordCommuneReport: the commune's report and proposal (Mẫu 03) on an entry.
    CommuneReport {
        /// `evaluationRounds/{r}/entries/{e}`.
        entry: String,
        /// Product origin and local materials.
        #[arg(long)]
        local_materials: String,
        /// Local labour.
        #[arg(long)]
        local_labour: String,
        /// The origin of the idea.
        #[arg(long)]
        idea_origin: String,
        /// Local identity and knowledge.
        #[arg(long)]
        local_identity: String,
        /// The day of the report and the proposal, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        date: Date,
        /// The proposal's reference, e.g. "Tờ trình 12/TTr-UBND".
        #[arg(long)]
        proposal_reference: String,
        /// Who signed it.
        #[arg(long)]
        signed_by: String,
        /// The commune's seal is on it.
        #[arg(long)]
        sealed: bool,
    },
    /// evaluation.ApproveNomination: the province chairman's approval of a result of 90 or more.
    ApproveNomination {
        /// `evaluationRounds/{r}/entries/{e}/result`.
        result: String,
        /// The decision, e.g. "Quyết định 2345/QĐ-UBND".
        #[arg(long)]
        reference: String,
        /// Its date, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        date: Date,
    },
    /// evaluation.ProposeNomination: the province's proposal of an approved result to the ministry.
    ProposeNomination {
        /// `evaluationRounds/{r}/entries/{e}/result`.
        result: String,
        /// The letter, e.g. "Công văn 678/UBND-NN".
        #[arg(long)]
        reference: String,
        /// Its date, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        date: Date,
    },
    /// certification.CreateReRatingApplication: a re-rating dossier inside its window (Điều 7.6).
    FileReRating {
        /// `certificates/{code}`.
        certificate: String,
        /// The dossier as received, e.g. "Tờ trình 12/TTr-UBND".
        #[arg(long)]
        dossier_reference: String,
    },
    /// certification.CreateInspection: an inspection of a certificate in force (Điều 9).
    CreateInspection {
        /// `certificates/{code}`.
        certificate: String,
        /// Periodic or ad hoc.
        #[arg(long, value_enum)]
        kind: Kind,
        /// The day it was carried out, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        date: Date,
        /// The inspecting body.
        #[arg(long)]
        inspector: String,
        /// Why (ad hoc).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// certification.RecordInspectionOutcome: what was found; a non-compliance proposes a revocation.
    RecordInspectionOutcome {
        /// `certificates/{code}/inspections/{id}`.
        inspection: String,
        /// The criteria still met.
        #[arg(long, value_enum)]
        criteria: Check,
        /// The OCOP mark used as the rules say.
        #[arg(long, value_enum)]
        mark_use: Check,
        /// The product's information and promotion.
        #[arg(long, value_enum)]
        product_information: Check,
        /// The findings.
        #[arg(long, default_value = "")]
        report: String,
        /// The conclusion's document.
        #[arg(long)]
        conclusion_document: String,
        /// The conclusion's date, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        conclusion_date: Date,
        /// The etag read; read now when not given.
        #[arg(long)]
        etag: Option<String>,
    },
    /// certification.ReviewRevocationProposal: an officer accepts (revokes) or rejects it.
    ReviewRevocationProposal {
        /// `certificates/{code}/inspections/{id}`.
        inspection: String,
        /// Revoke the certificate (without it, the proposal is rejected).
        #[arg(long)]
        accept: bool,
        /// Why, in words.
        #[arg(long)]
        text: String,
        /// On acceptance: the revocation decision.
        #[arg(long, default_value = "")]
        document: String,
        /// The inspection's etag read; read now when not given.
        #[arg(long)]
        etag: Option<String>,
    },
    /// certification.RevokeCertificate on a ground of Điều 8.1.
    Revoke {
        /// `certificates/{code}`.
        certificate: String,
        /// The ground.
        #[arg(long, value_enum)]
        ground: Ground,
        /// In words.
        #[arg(long)]
        text: String,
        /// The deciding document.
        #[arg(long)]
        document: String,
        /// The conclusion it rests on.
        #[arg(long)]
        conclusion_document: String,
        /// The conclusion's date, YYYY-MM-DD.
        #[arg(long, value_parser = date)]
        conclusion_date: Date,
        /// The etag read; read now when not given.
        #[arg(long)]
        etag: Option<String>,
    },
}

fn decision(reference: String, date: Date) -> Option<ProvinceDecision> {
    Some(ProvinceDecision {
        reference,
        date: Some(date),
        ..Default::default()
    })
}

/// Makes one call of the procedure with `token`; the response as debug text.
pub(crate) async fn run(config: &Config, token: &str, call: Procedure) -> Result<String, tonic::Status> {
    let channel = |to: &ocop_kit::config::Endpoint| {
        ocop_kit::client::channel(&to.url, &to.tls, Some(token))
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))
    };
    let evaluation = || channel(&config.services.evaluation).map(EvaluationServiceClient::new);
    let certification = || channel(&config.services.certification).map(CertificationServiceClient::new);
    let text = |m: &dyn std::fmt::Debug| format!("{m:#?}");
    match call {
        Procedure::CommuneReport {
            entry,
            local_materials,
            local_labour,
            idea_origin,
            local_identity,
            date,
            proposal_reference,
            signed_by,
            sealed,
        } => {
            let report = CommuneReport {
                local_materials,
                local_labour,
                idea_origin,
                local_identity,
                report_date: Some(date),
                proposal_reference,
                signed_by,
                sealed,
                ..Default::default()
            };
            let r = evaluation()?
                .record_commune_report(RecordCommuneReportRequest {
                    name: entry,
                    commune_report: Some(report),
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::ApproveNomination {
            result,
            reference,
            date,
        } => {
            let r = evaluation()?
                .approve_nomination(ApproveNominationRequest {
                    name: result,
                    approval: decision(reference, date),
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::ProposeNomination {
            result,
            reference,
            date,
        } => {
            let r = evaluation()?
                .propose_nomination(ProposeNominationRequest {
                    name: result,
                    proposal: decision(reference, date),
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::FileReRating {
            certificate,
            dossier_reference,
        } => {
            let r = certification()?
                .create_re_rating_application(CreateReRatingApplicationRequest {
                    parent: certificate,
                    dossier_reference,
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::CreateInspection {
            certificate,
            kind,
            date,
            inspector,
            reason,
        } => {
            let kind = match kind {
                Kind::Periodic => InspectionKind::Periodic,
                Kind::AdHoc => InspectionKind::AdHoc,
            };
            let r = certification()?
                .create_inspection(CreateInspectionRequest {
                    parent: certificate,
                    inspection: Some(Inspection {
                        kind: kind as i32,
                        inspection_date: Some(date),
                        inspector,
                        reason,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::RecordInspectionOutcome {
            inspection,
            criteria,
            mark_use,
            product_information,
            report,
            conclusion_document,
            conclusion_date,
            etag,
        } => {
            let mut client = certification()?;
            let etag = match etag {
                Some(etag) => etag,
                None => inspection_etag(&mut client, &inspection).await?,
            };
            let r = client
                .record_inspection_outcome(RecordInspectionOutcomeRequest {
                    name: inspection,
                    etag,
                    criteria: criteria.proto(),
                    mark_use: mark_use.proto(),
                    product_information: product_information.proto(),
                    report,
                    conclusion_document,
                    conclusion_date: Some(conclusion_date),
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::ReviewRevocationProposal {
            inspection,
            accept,
            text: why,
            document,
            etag,
        } => {
            let mut client = certification()?;
            let etag = match etag {
                Some(etag) => etag,
                None => inspection_etag(&mut client, &inspection).await?,
            };
            let r = client
                .review_revocation_proposal(ReviewRevocationProposalRequest {
                    name: inspection,
                    etag,
                    accept,
                    text: why,
                    document,
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
        Procedure::Revoke {
            certificate,
            ground,
            text: why,
            document,
            conclusion_document,
            conclusion_date,
            etag,
        } => {
            let mut client = certification()?;
            let etag = match etag {
                Some(etag) => etag,
                None => client
                    .get_certificate(GetCertificateRequest {
                        name: certificate.clone(),
                    })
                    .await?
                    .into_inner()
                    .certificate
                    .map(|c| c.etag)
                    .unwrap_or_default(),
            };
            let r = client
                .revoke_certificate(RevokeCertificateRequest {
                    name: certificate,
                    etag,
                    text: why,
                    document,
                    ground: ground.proto(),
                    conclusion_document,
                    conclusion_date: Some(conclusion_date),
                    ..Default::default()
                })
                .await?;
            Ok(text(&r.into_inner()))
        }
    }
}

/// The etag of inspection `name` as it reads now.
async fn inspection_etag(
    client: &mut CertificationServiceClient<ocop_kit::client::TracedChannel>,
    name: &str,
) -> Result<String, tonic::Status> {
    Ok(client
        .get_inspection(GetInspectionRequest { name: name.to_owned() })
        .await?
        .into_inner()
        .inspection
        .map(|i| i.etag)
        .unwrap_or_default())
}
