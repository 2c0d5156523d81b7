//! What an attendee pastes runs the first time, with the real clients: a key is claimed from the
//! running server (OpenRouter simulated), each snippet tab is read from the page exactly as it
//! shows it, written into a fresh folder (only the OpenRouter address pointed at the simulator),
//! and run with the command the tab states: Python with the official `openai` package from PyPI,
//! Node.js with `openai` from npm, curl, and the notebook on a real Jupyter kernel (nbclient). The
//! SDKs are pinned in `server/tests/snippets/` and installed once into `target/snippet-clients/`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use leptos::server_fn::ServerFn;
use reqwest::header::ACCEPT;

use app::claim::snippets::{SnippetKind, OPENROUTER_API_BASE};
use app::claim::CheckMyKey;
use openrouter::simulator::CANNED_COMPLETION;
use support::app_server::{client, sign_in, start_with_state};

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snippets");

/// One tab as the page shows it.
#[derive(Debug, Default)]
struct Tab {
    /// (file name, or `None` for a notebook cell; the text).
    blocks: Vec<(Option<String>, String)>,
    install: Option<String>,
    run: Option<String>,
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text between `start` and the next `end` after it, from `from`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<(&'a str, usize)> {
    let at = text.find(start)? + start.len();
    let len = text[at..].find(end)?;
    Some((&text[at..at + len], at + len))
}

/// Reads the selected tab from the page's HTML: the one panel of the several the page carries
/// that is not `hidden`.
fn tab(page: &str) -> Tab {
    let panels: Vec<&str> = page.split("data-testid=\"snippet-tab\"").skip(1).collect();
    let shown: Vec<&str> = panels.iter().copied().filter(|p| !p[..p.find('>').unwrap()].contains("hidden")).collect();
    assert_eq!((panels.len(), shown.len()), (SnippetKind::ALL.len(), 1), "every tab rendered, one shown");
    let section = shown[0].split("</section>").next().unwrap();
    let mut tab = Tab::default();
    let mut rest = section;
    while let Some((pre, end)) = between(rest, "<pre", "</pre>") {
        let file = between(pre, "data-file=\"", "\"").map(|(f, _)| f.to_string());
        let (code, _) = between(pre, "<code>", "</code>").expect("code in a block");
        tab.blocks.push((file, unescape(code)));
        rest = &rest[end..];
    }
    let command =
        |testid: &str| between(section, &format!("data-testid=\"{testid}\">"), "</code>").map(|(c, _)| unescape(c));
    tab.install = command("snippet-install");
    tab.run = command("snippet-run");
    tab
}

/// A folder of the test's own that survives between runs: the SDKs are installed once.
fn cache(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/snippet-clients").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed:\n{out}\n{err}");
    format!("{out}{err}")
}

/// A virtual environment with the pinned Python packages; its `bin` directory.
fn python_env() -> PathBuf {
    let requirements = std::fs::read_to_string(Path::new(ASSETS).join("requirements.txt")).unwrap();
    let venv = cache("python");
    let stamp = venv.join("installed.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(requirements.as_str()) {
        run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv));
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(Path::new(ASSETS).join("requirements.txt")));
        std::fs::write(&stamp, &requirements).unwrap();
    }
    venv.join("bin")
}

/// `node_modules` with the pinned npm packages (`npm ci` from the test's lock file).
fn node_modules() -> PathBuf {
    let lock = std::fs::read_to_string(Path::new(ASSETS).join("package-lock.json")).unwrap();
    let project = cache("node");
    let stamp = project.join("installed.json");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(Path::new(ASSETS).join(file), project.join(file)).unwrap();
        }
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--silent"]).current_dir(&project));
        std::fs::write(&stamp, &lock).unwrap();
    }
    project.join("node_modules")
}

/// A fresh folder holding the `.env` tab's file and `tab`'s files, pointed at `api`.
fn folder(env: &Tab, tab: &Tab, api: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (file, code) in env.blocks.iter().chain(&tab.blocks) {
        if let Some(file) = file {
            std::fs::write(dir.path().join(file), code.replace(OPENROUTER_API_BASE, api)).unwrap();
        }
    }
    dir
}

/// Runs a tab's stated command in `dir`, as a shell would, with `bin` first on the PATH.
fn run_stated(command: &str, dir: &Path, bin: Option<&Path>) -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    let path = bin.map_or(path.clone(), |bin| format!("{}:{path}", bin.display()));
    run(Command::new("bash").args(["-c", command]).current_dir(dir).env("PATH", path).env_remove("OPENROUTER_API_KEY"))
}

#[tokio::test]
async fn every_tab_runs_as_pasted_with_the_real_clients() {
    let (server, state) = start_with_state(true, &[]).await;
    let cookie = sign_in(&server, "paste@example.org").await;
    let claimed = client()
        .post(server.url(app::claim::ClaimKey::PATH))
        .header(ACCEPT, "application/json")
        .header("cookie", &cookie)
        .form(&[("slug", "demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 200);
    let api = state.openrouter.base_url().to_string();
    let page = |kind: SnippetKind| {
        let url = server.url(&format!("/w/demo?snippet={}", kind.id()));
        let cookie = cookie.clone();
        async move { client().get(url).header("cookie", cookie).send().await.unwrap().text().await.unwrap() }
    };
    let env = tab(&page(SnippetKind::Env).await);
    assert_eq!(env.blocks.len(), 1);
    assert_eq!(env.blocks[0].0.as_deref(), Some(".env"));
    let key = env.blocks[0].1.lines().next().unwrap().strip_prefix("OPENROUTER_API_KEY=").unwrap().to_string();
    assert!(key.starts_with("sk-or-v1-"));

    // Python: `python main.py` with the packages its install line names, in a fresh folder.
    let python = tab(&page(SnippetKind::Python).await);
    assert_eq!(python.install.as_deref(), Some("pip install openai python-dotenv"));
    let bin = python_env();
    let dir = folder(&env, &python, &api);
    let said = run_stated(python.run.as_deref().unwrap(), dir.path(), Some(&bin));
    assert!(said.contains(CANNED_COMPLETION), "python: {said}");

    // A model outside the workshop's: the SDK raises with OpenRouter's refusal.
    let main = std::fs::read_to_string(dir.path().join("main.py")).unwrap();
    let first_model = "meta-llama/llama-3.1-8b-instruct";
    std::fs::write(dir.path().join("main.py"), main.replace(first_model, "openai/gpt-4o")).unwrap();
    let refused = Command::new("bash")
        .args(["-c", python.run.as_deref().unwrap()])
        .current_dir(dir.path())
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("PermissionDeniedError")
            && stderr.contains("Model openai/gpt-4o is not allowed by the guardrail of this API key"),
        "{stderr}"
    );

    // JavaScript: `node --env-file=.env main.mjs` with openai from npm.
    let javascript = tab(&page(SnippetKind::JavaScript).await);
    assert_eq!(javascript.install.as_deref(), Some("npm install openai"));
    let dir = folder(&env, &javascript, &api);
    std::os::unix::fs::symlink(node_modules(), dir.path().join("node_modules")).unwrap();
    let said = run_stated(javascript.run.as_deref().unwrap(), dir.path(), None);
    assert!(said.contains(CANNED_COMPLETION), "javascript: {said}");

    // curl: `bash hello.sh`.
    let curl = tab(&page(SnippetKind::Curl).await);
    let dir = folder(&env, &curl, &api);
    let said = run_stated(curl.run.as_deref().unwrap(), dir.path(), None);
    assert!(said.contains(CANNED_COMPLETION), "curl: {said}");

    // The notebook: its three cells in a new notebook, run on a real kernel. The key comes from
    // the environment, as on a machine where it is set; otherwise the cell asks with getpass.
    let notebook = tab(&page(SnippetKind::Notebook).await);
    assert_eq!(notebook.blocks.len(), 3);
    assert!(notebook.blocks.iter().all(|(file, _)| file.is_none()), "cells, not files");
    let cells: Vec<serde_json::Value> = notebook
        .blocks
        .iter()
        .map(|(_, code)| {
            serde_json::json!({"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [],
                "source": code.replace(OPENROUTER_API_BASE, &api)})
        })
        .collect();
    assert!(!cells.iter().any(|c| c.to_string().contains(&key)), "the notebook never holds the key");
    let ipynb = serde_json::json!({"nbformat": 4, "nbformat_minor": 5, "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}});
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("workshop.ipynb"), ipynb.to_string()).unwrap();
    let execute = "import nbformat, nbclient\n\
                   nb = nbformat.read('workshop.ipynb', as_version=4)\n\
                   nbclient.NotebookClient(nb, kernel_name='python3', timeout=120).execute()\n\
                   print(nb.cells[2].outputs[0]['text'])\n";
    let said = run(Command::new(bin.join("python"))
        .args(["-c", execute])
        .current_dir(dir.path())
        .env("OPENROUTER_API_KEY", &key)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())));
    assert!(said.contains(CANNED_COMPLETION), "notebook: {said}");

    // "Test my key" shows OpenRouter's own refusal for a model the key may not use.
    let broken = client()
        .post(server.url("/demo/key-fault"))
        .header("cookie", &cookie)
        .form(&[("slug", "demo"), ("fault", "model-not-allowed")])
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 303);
    let checked = client()
        .post(server.url(CheckMyKey::PATH))
        .header(ACCEPT, "application/json")
        .header("cookie", &cookie)
        .form(&[("slug", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        checked.contains(&format!("Model {first_model} is not allowed by the guardrail of this API key")),
        "{checked}"
    );
}
