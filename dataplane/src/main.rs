use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = weft_dp::config::Config::parse();
    weft_dp::init_logging(config.log_format);
    match weft_dp::run(config, weft_dp::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-dp: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
