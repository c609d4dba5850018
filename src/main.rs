use clap::Parser;

/// Model checking allocates and frees millions of small states from several threads: glibc's
/// allocator spends much of that time on lock contention, mimalloc does not
/// ([`paxos::cli::Mimalloc`]).
#[global_allocator]
static ALLOCATOR: paxos::cli::Mimalloc = paxos::cli::Mimalloc;

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
