use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = weft_zone::config::Config::parse();
    weft_zone::init_logging(config.log_format);
    match weft_zone::run(config, weft_zone::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-zone: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
