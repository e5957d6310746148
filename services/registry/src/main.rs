//! The registry service binary.

fn main() -> anyhow::Result<()> {
    ocop_kit::cli::service_main(ocop_registry::spec(), ocop_registry::routes)
}
