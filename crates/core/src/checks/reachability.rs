//! `containerd-reachable`: the containerd the engine uses answers on its socket (needed to list
//! the containerd store while the classic store is active).

use containerd_client::tonic::Request;

use super::{CheckContext, Finding, Fix, Status};

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let socket = match ctx.engine.containerd_address() {
        Ok(s) => s,
        Err(e) => return Finding::new(Status::Fail, e.to_string()),
    };
    let base = Finding::new(Status::Ok, String::new()).with("socket", socket.display().to_string());
    match crate::stores::containerd::connect(&socket).await {
        Ok(client) => match client.version().version(Request::new(())).await {
            Ok(v) => {
                let v = v.into_inner();
                Finding {
                    summary: format!("containerd {} answers at {}", v.version, socket.display()),
                    ..base
                }
                .with("version", v.version)
            }
            Err(e) => Finding { status: Status::Fail, summary: format!("containerd refused the version call: {}", e.message()), ..base },
        },
        Err(e) => Finding { status: Status::Fail, summary: e.to_string(), ..base }.fix(Fix::manual(
            "start-engine",
            "Start the engine (its containerd runs with it), or run Stowage as a user that may open the socket",
            &["stowctl status", "sudo stowctl images"],
            None,
        )),
    }
}
