fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(sportello_commands())),
    )
    .expect("tauri build script");
}

/// Every command the window may call; `capabilities/default.json` grants exactly these.
fn sportello_commands() -> &'static [&'static str] {
    &[
        "app_info",
        "list_accounts",
        "test_email_account",
        "add_email_account",
        "remove_account",
        "refresh",
        "list_conversations",
        "get_conversation",
        "mark_read",
        "send_reply",
        "retry_message",
        "search",
        "open_attachment",
        "save_attachment",
        "message_source",
        "get_settings",
        "update_settings",
    ]
}
