//! Decision 1048's sheets: their product sets, named as the sheets name them
//! (the registry's codes of the taxonomy before 26/2026), and the deliberate
//! corrections of their printed maxima.

/// Product set codes (the registry's taxonomy) of the sheets' subgroup names.
pub(super) const SUBGROUPS: &[(&str, &str, &str)] = &[
    (
        "thuc-pham",
        "rau-cu-qua-hat-tuoi",
        "Thực phẩm tươi sống / Rau, củ, quả, hạt tươi",
    ),
    (
        "thuc-pham",
        "thit-trung-sua-tuoi",
        "Thực phẩm tươi sống / Thịt, trứng, sữa tươi",
    ),
    ("thuc-pham", "gao-ngu-coc", "Thực phẩm thô, sơ chế / Gạo, ngũ cốc"),
    (
        "thuc-pham",
        "mat-ong-cac-san-pham-tu-mat-ong-mat-khac",
        "Thực phẩm thô, sơ chế / Mật ong, các sản phẩm từ mật ong, mật khác",
    ),
    ("thuc-pham", "do-an-nhanh", "Thực phẩm chế biến / Đồ ăn nhanh"),
    (
        "thuc-pham",
        "che-bien-tu-gao-ngu-coc",
        "Thực phẩm chế biến / Chế biến từ gạo, ngũ cốc",
    ),
    (
        "thuc-pham",
        "che-bien-tu-rau-cu-qua-hat",
        "Thực phẩm chế biến / Chế biến từ rau, củ, quả, hạt",
    ),
    (
        "thuc-pham",
        "che-bien-tu-thit-trung-sua",
        "Thực phẩm chế biến / Chế biến từ thịt, trứng, sữa",
    ),
    (
        "thuc-pham",
        "che-bien-tu-thuy-hai-san",
        "Thực phẩm chế biến / Chế biến từ thủy, hải sản",
    ),
    (
        "thuc-pham",
        "tuong-nuoc-mam-gia-vi-dang-long-khac",
        "Gia vị / Tương, nước mắm, gia vị dạng lỏng khác",
    ),
    ("thuc-pham", "gia-vi-khac", "Gia vị / Gia vị khác"),
    ("thuc-pham", "che-tuoi-che-bien", "Chè / Chè tươi, chế biến"),
    (
        "thuc-pham",
        "cac-san-pham-khac-tu-che-tra",
        "Chè / Các sản phẩm khác từ chè, trà",
    ),
    ("thuc-pham", "ca-phe-ca-cao", "Cà phê, Ca cao"),
    ("do-uong", "ruou-trang", "Đồ uống có cồn / Rượu trắng"),
    ("do-uong", "do-uong-co-con-khac", "Đồ uống có cồn / Đồ uống có cồn khác"),
    (
        "do-uong",
        "nuoc-khoang-thien-nhien-nuoc-uong-tinh-khiet",
        "Đồ uống không cồn / Nước khoáng thiên nhiên, nước uống tinh khiết",
    ),
    ("do-uong", "do-uong-khong-con", "Đồ uống không cồn / Đồ uống không cồn"),
    (
        "thao-duoc",
        "thuc-pham-chuc-nang-thuoc-tu-duoc-lieu-thuoc-y-hoc-co-truyen",
        "Thực phẩm chức năng, thuốc từ dược liệu, thuốc Y học cổ truyền",
    ),
    ("thao-duoc", "my-pham", "Mỹ phẩm"),
    (
        "thao-duoc",
        "trang-thiet-bi-dung-cu-y-te",
        "Trang thiết bị, dụng cụ y tế",
    ),
    ("thao-duoc", "thao-duoc-khac", "Thảo dược khác"),
    (
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-trang-tri",
        "Thủ công mỹ nghệ, trang trí",
    ),
    (
        "thu-cong-my-nghe",
        "thu-cong-my-nghe-gia-dung",
        "Thủ công mỹ nghệ gia dụng",
    ),
    ("vai-may-mac", "vai-may-mac", "Vải, may mặc"),
    (
        "dich-vu-du-lich",
        "dich-vu-du-lich-truyen-thong-le-hoi",
        "Dịch vụ du lịch - truyền thống - lễ hội",
    ),
    (
        "dich-vu-du-lich",
        "dich-vu-du-lich-cong-dong-va-diem-du-lich",
        "Dịch vụ du lịch cộng đồng và điểm du lịch",
    ),
];

/// A deliberate correction of a criterion's printed maximum.
pub(super) struct Correction {
    pub(super) subgroup: &'static str,
    pub(super) criterion: &'static str,
    pub(super) printed: i32,
    pub(super) corrected: i32,
    pub(super) why: &'static str,
}

/// Each is a printed header that disagrees with its own options, where the
/// options' value also makes the part add up to the decision's cap.
pub(super) const CORRECTIONS: &[Correction] = &[
    Correction {
        subgroup: "mat-ong-cac-san-pham-tu-mat-ong-mat-khac",
        criterion: "9.1",
        printed: 3,
        corrected: 2,
        why: "its options reach 2, and part C then sums to 40 as printed in the part header",
    },
    Correction {
        subgroup: "cac-san-pham-khac-tu-che-tra",
        criterion: "6.3",
        printed: 2,
        corrected: 3,
        why: "its options reach 3, and part C then sums to 40",
    },
    Correction {
        subgroup: "nuoc-khoang-thien-nhien-nuoc-uong-tinh-khiet",
        criterion: "6.1",
        printed: 5,
        corrected: 3,
        why: "its options reach 3, and part C then sums to 40",
    },
    Correction {
        subgroup: "vai-may-mac",
        criterion: "6.5",
        printed: 3,
        corrected: 5,
        why: "its options reach 5, and part C then sums to 40",
    },
];
