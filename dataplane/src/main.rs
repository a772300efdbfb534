use clap::Parser;

fn main() -> std::process::ExitCode {
    let config = weft_dp::config::Config::parse();
    weft_dp::init_logging(config.log_format);
    let runtime = match config.threads {
        // One thread: no work stealing, no wake-ups across threads (what a sidecar wants).
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        threads => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads as usize)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("weft-dp: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(weft_dp::run(config, weft_dp::shutdown_signal())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("weft-dp: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
