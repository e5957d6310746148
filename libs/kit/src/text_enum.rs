//! States and kinds as Rust enums, stored as the text the schema's CHECK
//! constraints allow. [`text_enum!`](crate::text_enum!) declares one: its stored texts, parsing,
//! `Display` (the stored text, as messages show it) and the `TryFrom<String>`
//! a row's `#[sqlx(try_from = "String")]` column decodes through.

/// A stored text that names no value of the enum (the schema's CHECK
/// constraint should make it impossible).
#[derive(Debug)]
pub struct UnknownText {
    /// The enum's name.
    pub of: &'static str,
    /// The text found.
    pub text: String,
}

impl std::fmt::Display for UnknownText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a stored {}", self.text, self.of)
    }
}

impl std::error::Error for UnknownText {}

/// Declares a `Copy` enum whose variants are stored as the given texts.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order the schema lists them.
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value stored as `text`.
            #[allow(dead_code)]
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every stored text, in the order the schema lists them.
            #[allow(dead_code)]
            pub fn texts() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::text_enum::UnknownText;

            fn try_from(text: String) -> Result<$name, Self::Error> {
                $name::parse(&text).ok_or($crate::text_enum::UnknownText { of: stringify!($name), text })
            }
        }
    };
}

#[cfg(test)]
// The macro declares `pub` items, as a service's stores need; here they are a test's own.
#[allow(unreachable_pub)]
mod tests {
    crate::text_enum! {
        /// A test enum.
        pub enum Light {
            /// Stop.
            Red = "red",
            /// Go.
            Green = "green",
        }
    }

    #[test]
    fn a_value_is_stored_as_its_text_and_read_back() {
        for light in Light::ALL {
            assert_eq!(Light::parse(light.as_str()), Some(*light));
            assert_eq!(Light::try_from(light.to_string()).ok(), Some(*light));
        }
        assert_eq!(Light::texts(), ["red", "green"]);
    }

    #[test]
    fn an_unknown_text_is_an_error_naming_it() {
        assert_eq!(Light::parse("amber"), None);
        let err = Light::try_from("amber".to_owned()).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("`amber` is not a stored Light"));
    }
}
