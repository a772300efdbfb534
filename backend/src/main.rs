use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = weft_global::config::Config::parse();
    weft_global::init_logging(config.log_format);
    match weft_global::run(config, weft_global::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-global: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
