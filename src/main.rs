use clap::Parser;

fn main() {
    env_logger::init_from_env(env_logger::Env::default().default_filter_or("warn"));
    let cli = paxos::cli::Cli::parse();
    let code = match paxos::cli::run(cli) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
