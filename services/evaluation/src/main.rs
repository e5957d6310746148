//! The evaluation service binary.

#[global_allocator]
static ALLOCATOR: ocop_kit::Allocator = ocop_kit::Allocator;

fn main() -> std::process::ExitCode {
    ocop_kit::cli::service_main(ocop_evaluation::spec(), ocop_evaluation::routes)
}
