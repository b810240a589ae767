//! Tests of path confinement and read/browse semantics on a temporary sandbox.

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    run: PathBuf,
    roots: FileRoots,
}

/// `<tmp>/slaves/a/frameworks/f/executors/e/runs/c1` with `runs/latest`, a
/// 10-byte `stdout`, a subdirectory and two symlinks pointing out of it.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("slaves/a/frameworks/f/executors/e/runs");
    let run = runs.join("c1");
    std::fs::create_dir_all(&run).unwrap();
    std::os::unix::fs::symlink(&run, runs.join("latest")).unwrap();
    std::fs::write(run.join("stdout"), "0123456789").unwrap();
    std::fs::create_dir(run.join("sub")).unwrap();
    std::fs::write(run.join("sub/inner.txt"), "inner").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", run.join("passwd-link")).unwrap();
    std::os::unix::fs::symlink("/etc", run.join("etc-link")).unwrap();
    std::os::unix::fs::symlink("sub/inner.txt", run.join("inner-link")).unwrap();
    // A sibling run directory whose name extends the registered one.
    let sibling = run.with_file_name("c1x");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("secret"), "no").unwrap();
    // What the agent registers for a sandbox (`mesos-agent`'s `sandbox_roots`).
    let mut roots = FileRoots::default();
    roots.add(&run.display().to_string(), run.clone());
    roots.add(
        &runs.join("latest").display().to_string(),
        runs.join("latest"),
    );
    roots.add("/frameworks/f/executors/e/runs/latest", runs.join("latest"));
    Fixture {
        _dir: dir,
        run,
        roots,
    }
}

fn path(f: &Fixture, rest: &str) -> String {
    format!("{}{}", f.run.display(), rest)
}

#[test]
fn normalizes_and_refuses_dot_dot() {
    assert_eq!(normalize("//a/./b/").unwrap(), "/a/b");
    assert_eq!(normalize("a/b").unwrap(), "/a/b");
    assert!(matches!(
        normalize("/a/../b"),
        Err(FilesError::Forbidden(_))
    ));
}

#[test]
fn resolves_files_inside_sandboxes_and_aliases() {
    let f = fixture();
    let r = f.roots.resolve(&path(&f, "/stdout")).unwrap();
    assert_eq!(r.real, f.run.join("stdout").canonicalize().unwrap());
    let short = f
        .roots
        .resolve("/frameworks/f/executors/e/runs/latest/stdout")
        .unwrap();
    assert_eq!(short.real, r.real);
    let long = f.run.parent().unwrap().join("latest/sub/inner.txt");
    assert!(f.roots.resolve(&long.display().to_string()).is_ok());
    assert!(
        f.roots.resolve(&path(&f, "/inner-link")).is_ok(),
        "symlinks inside the sandbox are fine"
    );
    assert!(f.roots.resolve(&path(&f, "")).is_ok());
}

#[test]
fn refuses_paths_outside_sandboxes() {
    let f = fixture();
    assert!(matches!(
        f.roots.resolve(&path(&f, "/../c1x/secret")),
        Err(FilesError::Forbidden(_))
    ));
    assert!(matches!(
        f.roots
            .resolve("/frameworks/f/executors/e/runs/latest/../../../x"),
        Err(FilesError::Forbidden(_))
    ));
    assert!(matches!(
        f.roots.resolve("/etc/passwd"),
        Err(FilesError::NotFound(_))
    ));
    assert!(
        matches!(
            f.roots.resolve(&path(&f, "x/secret")),
            Err(FilesError::NotFound(_))
        ),
        "prefix of a name is not a parent"
    );
    assert!(matches!(
        f.roots.resolve(&path(&f, "/missing")),
        Err(FilesError::NotFound(_))
    ));
}

#[test]
fn symlinks_out_of_the_sandbox_are_refused() {
    let f = fixture();
    assert!(matches!(
        f.roots.resolve(&path(&f, "/passwd-link")),
        Err(FilesError::Forbidden(_))
    ));
    assert!(matches!(
        f.roots.resolve(&path(&f, "/etc-link/passwd")),
        Err(FilesError::Forbidden(_))
    ));
    assert!(matches!(
        f.roots.resolve(&path(&f, "/etc-link")),
        Err(FilesError::Forbidden(_))
    ));
}

#[test]
fn read_leaves_a_cut_character_for_the_next_read_and_counts_bytes() {
    let f = fixture();
    // "é" is two bytes (c3 a9); 0xff is invalid.
    std::fs::write(f.run.join("utf8"), b"a\xc3\xa9b\xffc").unwrap();
    let file = f.roots.resolve(&path(&f, "/utf8")).unwrap();
    // A range ending inside "é" stops before it.
    assert_eq!(
        read(&file, Some("0"), Some("2")).unwrap(),
        json!({"data": "a", "offset": 0, "length": 1})
    );
    assert_eq!(
        read(&file, Some("1"), Some("3")).unwrap(),
        json!({"data": "éb", "offset": 1, "length": 3})
    );
    // An invalid byte shows as U+FFFD; `length` still counts bytes.
    assert_eq!(
        read(&file, Some("4"), None).unwrap(),
        json!({"data": "\u{fffd}c", "offset": 4, "length": 2})
    );
}

#[test]
fn read_offset_and_length_semantics() {
    let f = fixture();
    let file = f.roots.resolve(&path(&f, "/stdout")).unwrap();
    assert_eq!(
        read(&file, None, None).unwrap(),
        json!({"data": "", "offset": 10})
    );
    assert_eq!(
        read(&file, Some("-1"), None).unwrap(),
        json!({"data": "", "offset": 10})
    );
    assert_eq!(
        read(&file, Some("2"), Some("3")).unwrap(),
        json!({"data": "234", "offset": 2, "length": 3})
    );
    assert_eq!(
        read(&file, Some("4"), None).unwrap(),
        json!({"data": "456789", "offset": 4, "length": 6})
    );
    assert_eq!(
        read(&file, Some("4"), Some("-1")).unwrap(),
        json!({"data": "456789", "offset": 4, "length": 6})
    );
    assert_eq!(
        read(&file, Some("8"), Some("100")).unwrap(),
        json!({"data": "89", "offset": 8, "length": 2})
    );
    assert_eq!(
        read(&file, Some("10"), Some("5")).unwrap(),
        json!({"data": "", "offset": 10})
    );
    assert_eq!(
        read(&file, Some("50"), None).unwrap(),
        json!({"data": "", "offset": 50})
    );
    assert_eq!(
        read(&file, Some("0"), Some("0")).unwrap(),
        json!({"data": "", "offset": 0, "length": 0})
    );
    for (o, l) in [
        (Some("-2"), None),
        (Some("x"), None),
        (Some("0"), Some("-5")),
        (Some("0"), Some("ten")),
    ] {
        assert!(
            matches!(read(&file, o, l), Err(FilesError::BadRequest(_))),
            "{o:?} {l:?}"
        );
    }
    assert_eq!(
        read(&f.roots.resolve(&path(&f, "")).unwrap(), Some("0"), None),
        Err(FilesError::BadRequest("Cannot read a directory.".into()))
    );
}

#[test]
fn reads_are_capped_at_sixteen_pages() {
    let f = fixture();
    let big = f.run.join("big");
    std::fs::write(&big, vec![b'a'; 200_000]).unwrap();
    let big = f.roots.resolve(&path(&f, "/big")).unwrap();
    let v = read(&big, Some("0"), None).unwrap();
    assert_eq!(v["data"].as_str().unwrap().len(), MAX_READ as usize);
    let v = read(&big, Some("0"), Some("100000")).unwrap();
    assert_eq!(v["data"].as_str().unwrap().len(), 65536);
}

#[test]
fn browse_lists_sorted_entries_with_modes() {
    let f = fixture();
    let r = f.roots.resolve(&path(&f, "/")).unwrap();
    let v = browse(&r).unwrap();
    let entries = v.as_array().unwrap();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    let stdout = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("/stdout"))
        .unwrap();
    assert_eq!(stdout["size"], 10);
    assert!(stdout["mode"].as_str().unwrap().starts_with("-rw"));
    assert!(stdout["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let sub = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("/sub"))
        .unwrap();
    assert!(sub["mode"].as_str().unwrap().starts_with('d'));
    let link = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with("/passwd-link"))
        .unwrap();
    assert!(
        link["mode"].as_str().unwrap().starts_with('l'),
        "links are listed, not followed"
    );
    assert_eq!(stdout["path"], format!("{}/stdout", f.run.display()));
}

#[test]
fn mode_strings() {
    assert_eq!(mode_string(0o100644), "-rw-r--r--");
    assert_eq!(mode_string(0o040755), "drwxr-xr-x");
    assert_eq!(mode_string(0o104755), "-rwsr-xr-x");
    assert_eq!(mode_string(0o041777), "drwxrwxrwt");
    assert_eq!(mode_string(0o102640), "-rw-r-S---");
    assert_eq!(mode_string(0o120777), "lrwxrwxrwx");
}

#[test]
fn debug_lists_roots() {
    let f = fixture();
    let d = f.roots.debug();
    assert!(d.get("/frameworks/f/executors/e/runs/latest").is_some());
    assert_eq!(d[f.run.display().to_string()], f.run.display().to_string());
}

/// Resolves `<run>/d/<rest>` with `d` a real directory, then (as a task
/// racing the agent would) replaces `d` with a symlink to a directory
/// outside the sandbox holding the same names: what was resolved must not
/// be opened through the swapped-in symlink.
fn resolve_then_swap_in_a_symlink(f: &Fixture, rest: &str) -> (Resolved, tempfile::TempDir) {
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join("sub")).unwrap();
    std::fs::write(outside.path().join("secret"), "host secret").unwrap();
    std::fs::write(outside.path().join("sub/host-file"), "host").unwrap();
    let d = f.run.join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("secret"), "sandbox file").unwrap();
    let resolved = f.roots.resolve(&path(f, &format!("/d/{rest}"))).unwrap();
    std::fs::rename(&d, f.run.join("d-old")).unwrap();
    std::os::unix::fs::symlink(outside.path(), &d).unwrap();
    (resolved, outside)
}

#[test]
fn a_read_through_a_component_swapped_for_a_symlink_after_resolve_is_refused() {
    let f = fixture();
    let (resolved, _outside) = resolve_then_swap_in_a_symlink(&f, "secret");
    let r = read(&resolved, Some("0"), None);
    assert!(matches!(r, Err(FilesError::Forbidden(_))), "{r:?}");
    let r = open_regular(&resolved, "download").map(|_| ());
    assert!(matches!(r, Err(FilesError::Forbidden(_))), "{r:?}");
}

#[test]
fn browsing_through_a_component_swapped_for_a_symlink_after_resolve_is_refused() {
    let f = fixture();
    let (resolved, _outside) = resolve_then_swap_in_a_symlink(&f, "sub");
    let r = browse(&resolved);
    assert!(matches!(r, Err(FilesError::Forbidden(_))), "{r:?}");
}

/// A daemon log served as a single-file root (`/slave/log`, `/master/log`).
fn log_roots() -> (tempfile::TempDir, FileRoots) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mesos-agent.INFO");
    std::fs::write(&log, "line one\nline two\n").unwrap();
    std::fs::write(dir.path().join("other.INFO"), "not served").unwrap();
    let mut roots = FileRoots::default();
    roots.add("/slave/log", log);
    (dir, roots)
}

#[tokio::test]
async fn a_log_file_is_a_root_of_its_own() {
    let (dir, roots) = log_roots();
    let v = http::read(roots.clone(), Some("/slave/log"), Some("5"), Some("3"))
        .await
        .unwrap();
    assert_eq!(v, json!({"data": "one", "offset": 5, "length": 3}));
    let listed = http::browse(roots.clone(), Some("/slave/log"))
        .await
        .unwrap();
    assert_eq!(listed[0]["path"], "/slave/log");
    assert_eq!(listed[0]["size"], 18);
    // Nothing next to or under the file is reachable through it.
    for bad in [
        "/slave/log/../other.INFO",
        "/slave/log/x",
        "/slave",
        "/other.INFO",
    ] {
        let e = http::read(roots.clone(), Some(bad), Some("0"), None)
            .await
            .unwrap_err();
        assert!((400..500).contains(&e.status()), "{bad}: {e:?}");
    }
    let real = dir.path().join("other.INFO").display().to_string();
    let e = http::read(roots.clone(), Some(&real), Some("0"), None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404, "an absolute path under no root is unknown");
    assert_eq!(
        http::read(roots.clone(), Some("/slave/log"), Some("-2"), None)
            .await
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        http::read(roots, Some("/slave/log"), Some("0"), Some("-5"))
            .await
            .unwrap_err()
            .status(),
        400
    );
}

#[tokio::test]
async fn v1_list_and_read() {
    let f = fixture();
    let root = path(&f, "");
    let listed = http::list_files(f.roots.clone(), &root).await.unwrap();
    let infos = listed["file_infos"].as_array().unwrap();
    let stdout = infos
        .iter()
        .find(|i| i["path"] == path(&f, "/stdout"))
        .unwrap();
    assert_eq!(stdout["size"], 10);
    assert!(stdout["mode"].is_u64(), "numeric st_mode: {stdout}");
    assert_eq!(stdout["mode"].as_u64().unwrap() & 0o170000, 0o100000);
    assert!(stdout["mtime"]["nanoseconds"].as_i64().unwrap() > 0);
    let sub = infos
        .iter()
        .find(|i| i["path"] == path(&f, "/sub"))
        .unwrap();
    assert_eq!(sub["mode"].as_u64().unwrap() & 0o170000, 0o040000);

    let r = http::read_file(f.roots.clone(), &path(&f, "/stdout"), 2, Some(3))
        .await
        .unwrap();
    assert_eq!(r, json!({"size": 10, "data": "MjM0"}));
    let r = http::read_file(f.roots.clone(), &path(&f, "/stdout"), 50, None)
        .await
        .unwrap();
    assert_eq!(r, json!({"size": 10, "data": ""}));
    for bad in ["/passwd-link", "/etc-link/passwd", "/../c1x/secret"] {
        let e = http::read_file(f.roots.clone(), &path(&f, bad), 0, None)
            .await
            .unwrap_err();
        assert!((400..500).contains(&e.status()), "{bad}: {e:?}");
    }
    let e = http::read_file(f.roots.clone(), "/etc/passwd", 0, None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = http::read_file(f.roots.clone(), &path(&f, "/sub"), 0, None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
}
