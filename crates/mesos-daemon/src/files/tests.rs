//! Tests of path confinement and read/browse semantics on a temporary sandbox.

use super::*;
use crate::core::Sandbox;

struct Fixture {
    _dir: tempfile::TempDir,
    run: PathBuf,
    roots: FileRoots,
}

/// `<tmp>/slaves/a/frameworks/f/executors/e/runs/c1` with `runs/latest`, a
/// 10-byte `stdout`, a subdirectory and two symlinks pointing out of it.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::paths::run_dir(dir.path(), "a", "f", "e", "c1");
    crate::paths::create_run_dir(&run, &crate::paths::latest_link(dir.path(), "a", "f", "e"))
        .unwrap();
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
    let roots = FileRoots::for_sandboxes(&[Sandbox {
        framework_id: "f".into(),
        executor_id: "e".into(),
        directory: run.clone(),
    }]);
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
        json!({"data": "234", "offset": 2})
    );
    assert_eq!(
        read(&file, Some("4"), None).unwrap(),
        json!({"data": "456789", "offset": 4})
    );
    assert_eq!(
        read(&file, Some("4"), Some("-1")).unwrap(),
        json!({"data": "456789", "offset": 4})
    );
    assert_eq!(
        read(&file, Some("8"), Some("100")).unwrap(),
        json!({"data": "89", "offset": 8})
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
        json!({"data": "", "offset": 0})
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
