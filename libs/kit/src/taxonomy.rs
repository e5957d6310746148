//! The product taxonomy of Decision 26/2026 Phụ lục I, and the one table that
//! says on which of its product sets a product classified under the earlier
//! taxonomy is scored.
//!
//! **Current sets.** Six groups and 26 product sets, one criteria sheet each
//! (Phụ lục II, sheets 1 to 26 in [`SETS`]' order). The third-party
//! transcription of the 148/2023 sheets has the same 26 sets in the same
//! order, so a 148 sheet and a 26/2026 sheet of one number score the same
//! set. A set whose scope did not change keeps the code it had; the others
//! take the slug of their 2026 sheet (or, for the handicraft set, of its
//! Phụ lục I name).
//!
//! **Legacy codes.** The registry classified products with the sets of
//! Decision 1048/2019 (and its 781 community-tourism sheet). Those codes stay
//! valid for the products that carry them: a product registered in 2024 keeps
//! its code and enters a 148 or 26/2026 round scored on the set [`LEGACY`]
//! names, without re-registering. Where 26/2026 split a set (honey: raw honey
//! is sheet 4, products made from honey sheet 8), the table names the set most
//! of its products belong to; a product of the other kind is reclassified in
//! the registry. Two sets were removed (medical equipment; 1048's
//! tradition–festival tourism): they have no sheet since 148, and their
//! products must be reclassified before they can be evaluated again.
//!
//! Evaluation reads this table to pin a criteria set (`CreateEntry`); the
//! registry, to mark legacy sets in `ListProductGroups`. Its tests check every
//! legacy code against the current sets, the registry's CSV and the shipped
//! sheets.

/// A product set of 26/2026 Phụ lục I.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductSet {
    /// Its sheet's number in Phụ lục II (and in the 148 transcription).
    pub sheet: u8,
    /// Its row of Phụ lục I, e.g. `I.2.b`.
    pub annex: &'static str,
    /// Its group's code.
    pub group: &'static str,
    /// Its code.
    pub code: &'static str,
    /// Its name in Phụ lục I.
    pub name_vi: &'static str,
}

/// How a legacy set relates to the current one it is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The current set is wider (e.g. adds fresh aquatic products).
    Widened,
    /// Renamed, same scope.
    Renamed,
    /// Part of its scope moved to another set.
    Changed,
    /// Merged with other sets into one.
    Merged,
    /// Same set, now in another group.
    Regrouped,
    /// No current set: its products must be reclassified.
    Removed,
}

/// A product set of the taxonomy before 26/2026 that is not a current set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Legacy {
    /// Its group's code.
    pub group: &'static str,
    /// Its code.
    pub code: &'static str,
    /// The current set its products are scored on; `None` when removed.
    pub scored_as: Option<&'static str>,
    /// How the two relate.
    pub relation: Relation,
    /// Why, in a sentence.
    pub why: &'static str,
}

/// The six groups of Điều 2.2: (code, name).
pub const GROUPS: [(&str, &str); 6] = [
    ("thuc-pham", "Thực phẩm"),
    ("do-uong", "Đồ uống"),
    ("duoc-lieu", "Dược liệu và sản phẩm từ dược liệu"),
    ("thu-cong-my-nghe", "Hàng thủ công mỹ nghệ"),
    ("sinh-vat-canh", "Sinh vật cảnh"),
    (
        "dich-vu-du-lich",
        "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
    ),
];

const fn set(
    sheet: u8,
    annex: &'static str,
    group: &'static str,
    code: &'static str,
    name_vi: &'static str,
) -> ProductSet {
    ProductSet {
        sheet,
        annex,
        group,
        code,
        name_vi,
    }
}

/// The 26 product sets, in sheet order.
pub const SETS: [ProductSet; 26] = [
    set(1, "I.1.a", "thuc-pham", "rau-cu-qua-hat-tuoi", "Rau, củ, quả, hạt tươi"),
    set(
        2,
        "I.1.b",
        "thuc-pham",
        "thit-thuy-san-trung-sua-tuoi",
        "Thịt, thủy sản, trứng, sữa tươi",
    ),
    set(
        3,
        "I.2.a",
        "thuc-pham",
        "gao-ngu-coc-hat-so-che-khac",
        "Gạo, ngũ cốc, hạt sơ chế khác",
    ),
    set(
        4,
        "I.2.b",
        "thuc-pham",
        "mat-ong-mat-khac-va-nong-san-thuc-pham-khac",
        "Mật ong, mật khác và nông sản thực phẩm khác",
    ),
    set(5, "I.3.a", "thuc-pham", "do-an-nhanh", "Đồ ăn nhanh"),
    set(
        6,
        "I.3.b",
        "thuc-pham",
        "che-bien-tu-gao-ngu-coc",
        "Chế biến từ gạo, ngũ cốc",
    ),
    set(
        7,
        "I.3.c",
        "thuc-pham",
        "che-bien-tu-rau-cu-qua-hat",
        "Chế biến từ rau, củ, quả, hạt",
    ),
    set(
        8,
        "I.3.d",
        "thuc-pham",
        "che-bien-tu-thit-thuy-san-trung-sua-cac-san-pham-tu-mat-ong-mat-khac-va-nong-san-thuc-pham-khac",
        "Chế biến từ thịt, trứng, sữa, thủy sản, các sản phẩm từ mật ong, mật khác và nông sản thực phẩm khác",
    ),
    set(
        9,
        "I.4.a",
        "thuc-pham",
        "tuong-nuoc-mam-gia-vi-dang-long-khac",
        "Tương, nước mắm, gia vị dạng lỏng khác",
    ),
    set(10, "I.4.b", "thuc-pham", "gia-vi-khac", "Gia vị khác"),
    set(11, "I.5.a", "thuc-pham", "che-tuoi-che-bien", "Chè tươi, chế biến"),
    set(
        12,
        "I.5.b",
        "thuc-pham",
        "san-pham-tra-tu-thuc-vat-khac",
        "Sản phẩm chè từ thực vật khác",
    ),
    set(13, "I.6", "thuc-pham", "ca-phe-ca-cao", "Cà phê, ca cao"),
    set(14, "II.1.a", "do-uong", "ruou-trang", "Rượu trắng"),
    set(15, "II.1.b", "do-uong", "do-uong-co-con-khac", "Đồ uống có cồn khác"),
    set(
        16,
        "II.2.a",
        "do-uong",
        "nuoc-khoang-thien-nhien-nuoc-uong-dong-chai",
        "Nước khoáng thiên nhiên, nước uống đóng chai",
    ),
    set(17, "II.2.b", "do-uong", "do-uong-khong-con", "Đồ uống không cồn"),
    set(
        18,
        "III.1",
        "duoc-lieu",
        "thuc-pham-chuc-nang-thuoc-duoc-lieu-thuoc-co-truyen",
        "Thực phẩm chức năng, thuốc dược liệu, thuốc cổ truyền",
    ),
    set(
        19,
        "III.2",
        "duoc-lieu",
        "my-pham-co-thanh-phan-tu-duoc-lieu",
        "Mỹ phẩm có thành phần từ dược liệu",
    ),
    set(
        20,
        "III.3",
        "duoc-lieu",
        "tinh-dau-va-duoc-lieu-khac",
        "Tinh dầu và dược liệu khác",
    ),
    set(
        21,
        "IV.1",
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-gia-dung-trang-tri",
        "Thủ công mỹ nghệ gia dụng, trang trí",
    ),
    set(22, "IV.2", "thu-cong-my-nghe", "vai-may-mac", "Vải, may mặc"),
    set(23, "V.1", "sinh-vat-canh", "hoa", "Hoa"),
    set(24, "V.2", "sinh-vat-canh", "cay-canh", "Cây cảnh"),
    set(25, "V.3", "sinh-vat-canh", "dong-vat-canh", "Động vật cảnh"),
    set(
        26,
        "VI.1",
        "dich-vu-du-lich",
        "dich-vu-du-lich-cong-dong-du-lich-sinh-thai-va-diem-du-lich",
        "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
    ),
];

const SET_8: &str = "che-bien-tu-thit-thuy-san-trung-sua-cac-san-pham-tu-mat-ong-mat-khac-va-nong-san-thuc-pham-khac";

const fn legacy(
    group: &'static str,
    code: &'static str,
    scored_as: Option<&'static str>,
    relation: Relation,
    why: &'static str,
) -> Legacy {
    Legacy {
        group,
        code,
        scored_as,
        relation,
        why,
    }
}

/// Every code of the earlier taxonomy that is not a current set, with the
/// current set its products are scored on. (The 11 codes of 1048 whose set
/// did not change — rau-cu-qua-hat-tuoi, do-an-nhanh, … — are current sets.)
pub const LEGACY: [Legacy; 17] = [
    legacy(
        "thuc-pham",
        "thit-trung-sua-tuoi",
        Some("thit-thuy-san-trung-sua-tuoi"),
        Relation::Widened,
        "26/2026 adds fresh aquatic products to fresh meat, eggs and milk",
    ),
    legacy(
        "thuc-pham",
        "gao-ngu-coc",
        Some("gao-ngu-coc-hat-so-che-khac"),
        Relation::Widened,
        "26/2026 adds other pre-processed grains",
    ),
    legacy(
        "thuc-pham",
        "mat-ong-cac-san-pham-tu-mat-ong-mat-khac",
        Some("mat-ong-mat-khac-va-nong-san-thuc-pham-khac"),
        Relation::Changed,
        "honey and other nectar stay raw produce (sheet 4); products made from honey moved to sheet 8 and are reclassified there",
    ),
    legacy(
        "thuc-pham",
        "che-bien-tu-thit-trung-sua",
        Some(SET_8),
        Relation::Merged,
        "processed meat, eggs and milk are one set with processed aquatic and honey products",
    ),
    legacy(
        "thuc-pham",
        "che-bien-tu-thuy-hai-san",
        Some(SET_8),
        Relation::Merged,
        "processed aquatic products are one set with processed meat, eggs, milk and honey products",
    ),
    legacy(
        "thuc-pham",
        "cac-san-pham-khac-tu-che-tra",
        Some("san-pham-tra-tu-thuc-vat-khac"),
        Relation::Changed,
        "the other tea products are tea-like products from other plants in 26/2026",
    ),
    legacy(
        "do-uong",
        "nuoc-khoang-thien-nhien-nuoc-uong-tinh-khiet",
        Some("nuoc-khoang-thien-nhien-nuoc-uong-dong-chai"),
        Relation::Renamed,
        "purified water is bottled water in 26/2026",
    ),
    legacy(
        "thao-duoc",
        "thuc-pham-chuc-nang-thuoc-tu-duoc-lieu-thuoc-y-hoc-co-truyen",
        Some("thuc-pham-chuc-nang-thuoc-duoc-lieu-thuoc-co-truyen"),
        Relation::Renamed,
        "the Thảo dược group is Dược liệu và sản phẩm từ dược liệu; the set is renamed",
    ),
    legacy(
        "thao-duoc",
        "my-pham",
        Some("my-pham-co-thanh-phan-tu-duoc-lieu"),
        Relation::Renamed,
        "cosmetics are scored as cosmetics with herbal ingredients",
    ),
    legacy(
        "thao-duoc",
        "thao-duoc-khac",
        Some("tinh-dau-va-duoc-lieu-khac"),
        Relation::Renamed,
        "other herbal products are essential oils and other herbal products",
    ),
    legacy(
        "thao-duoc",
        "trang-thiet-bi-dung-cu-y-te",
        None,
        Relation::Removed,
        "medical equipment has no set and no sheet since 148/2023",
    ),
    legacy(
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-trang-tri",
        Some("thu-cong-my-nghe-gia-dung-trang-tri"),
        Relation::Merged,
        "decorative and household handicrafts are one set",
    ),
    legacy(
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-gia-dung",
        Some("thu-cong-my-nghe-gia-dung-trang-tri"),
        Relation::Merged,
        "household and decorative handicrafts are one set",
    ),
    legacy(
        "vai-may-mac",
        "vai-may-mac",
        Some("vai-may-mac"),
        Relation::Regrouped,
        "textiles and garments are a set of the handicraft group",
    ),
    legacy(
        "dich-vu-du-lich",
        "dich-vu-du-lich-truyen-thong-le-hoi",
        None,
        Relation::Removed,
        "1048's tradition and festival tourism set has no set and no sheet since 148/2023",
    ),
    legacy(
        "dich-vu-du-lich",
        "dich-vu-du-lich-cong-dong-va-diem-du-lich",
        Some("dich-vu-du-lich-cong-dong-du-lich-sinh-thai-va-diem-du-lich"),
        Relation::Widened,
        "26/2026 adds eco-tourism",
    ),
    legacy(
        "sinh-vat-canh",
        "",
        None,
        Relation::Removed,
        "the group had no product sets before; its products take Hoa, Cây cảnh or Động vật cảnh",
    ),
];

/// What a product's set code is scored as under 148 and 26/2026.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scored {
    /// A current set.
    Current(&'static ProductSet),
    /// A legacy code, scored on a current set.
    Mapped(&'static ProductSet, &'static Legacy),
    /// A legacy code whose set was removed.
    Removed(&'static Legacy),
    /// Not a code of either taxonomy.
    Unknown,
}

/// The current set of `code`.
pub fn current(code: &str) -> Option<&'static ProductSet> {
    SETS.iter().find(|s| s.code == code)
}

/// The current set scored on sheet `sheet` (1 to 26) of 148 or 26/2026.
pub fn by_sheet(sheet: u8) -> Option<&'static ProductSet> {
    SETS.iter().find(|s| s.sheet == sheet)
}

/// The legacy entry of `(group, code)`, when that pair is not a current set.
pub fn legacy_of(group: &str, code: &str) -> Option<&'static Legacy> {
    LEGACY.iter().find(|l| l.group == group && l.code == code)
}

/// The set a product classified as `code` is scored on under 148 and 26/2026.
/// Codes are unique across both taxonomies except `vai-may-mac`, which names
/// the same set in its old group and its new one.
pub fn scored_as(code: &str) -> Scored {
    if let Some(set) = current(code) {
        return Scored::Current(set);
    }
    match LEGACY.iter().find(|l| l.code == code) {
        Some(l) => match l.scored_as.and_then(current) {
            Some(set) => Scored::Mapped(set, l),
            None => Scored::Removed(l),
        },
        None => Scored::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_sets_follow_phu_luc_i() {
        let sheets: Vec<u8> = SETS.iter().map(|s| s.sheet).collect();
        assert_eq!(sheets, (1..=26).collect::<Vec<_>>());
        let codes: HashSet<&str> = SETS.iter().map(|s| s.code).collect();
        assert_eq!(codes.len(), 26, "codes are unique");
        let groups: HashSet<&str> = GROUPS.iter().map(|g| g.0).collect();
        assert!(SETS.iter().all(|s| groups.contains(s.group)), "every set is in a group");
        for (group, _) in GROUPS {
            assert!(SETS.iter().any(|s| s.group == group), "{group} has sets");
        }
        let flowers: Vec<&str> = SETS
            .iter()
            .filter(|s| s.group == "sinh-vat-canh")
            .map(|s| s.code)
            .collect();
        assert_eq!(flowers, ["hoa", "cay-canh", "dong-vat-canh"]);
        assert_eq!(by_sheet(4).unwrap().code, "mat-ong-mat-khac-va-nong-san-thuc-pham-khac");
        assert_eq!(by_sheet(27), None);
    }

    #[test]
    fn every_legacy_code_is_scored_on_a_current_set_or_says_it_was_removed() {
        let mut seen = HashSet::new();
        for l in &LEGACY {
            assert!(seen.insert((l.group, l.code)), "{} listed twice", l.code);
            assert!(
                !SETS.iter().any(|s| s.group == l.group && s.code == l.code),
                "{}/{} is a current set, not a legacy one",
                l.group,
                l.code
            );
            match (l.relation, l.scored_as) {
                (Relation::Removed, None) => assert!(matches!(scored_as(l.code), Scored::Removed(_))),
                (Relation::Removed, Some(to)) => panic!("{} is removed but scored as {to}", l.code),
                (_, None) => panic!("{} has no current set but is not marked removed", l.code),
                (_, Some(to)) => {
                    let set = current(to).unwrap_or_else(|| panic!("{} → {to}: not a current set", l.code));
                    let expected = if set.code == l.code {
                        Scored::Current(set)
                    } else {
                        Scored::Mapped(set, l)
                    };
                    assert_eq!(scored_as(l.code), expected, "{}", l.code);
                }
            }
        }
        assert_eq!(scored_as("rau-cu-qua-hat-tuoi"), Scored::Current(&SETS[0]));
        assert_eq!(scored_as("do-choi"), Scored::Unknown);
        assert_eq!(
            legacy_of("thu-cong-my-nghe", "thu-cong-my-nghe-gia-dung").and_then(|l| l.scored_as),
            Some("thu-cong-my-nghe-gia-dung-trang-tri")
        );
        assert_eq!(legacy_of("thu-cong-my-nghe", "vai-may-mac"), None, "the current pair");
    }
}
