fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(
                tauri_build::AppManifest::new()
                    .commands(sportello_commands())
                    // No hand-written permission files: only the generated allow-/deny- ones.
                    .permissions_path_pattern("./src-tauri/permissions/**/*"),
            ),
    )
    .expect("tauri build script");
    // tauri-build leaves what it generated at the top of the repository (`permissions/`,
    // `gen/`); everything it needs is in OUT_DIR by now, so keep the top level clean.
    for generated in ["permissions", "gen"] {
        let _ = std::fs::remove_dir_all(generated);
    }
}

/// Every command the window may call; `capabilities/default.json` grants exactly these.
fn sportello_commands() -> &'static [&'static str] {
    &[
        "app_info",
        "get_desktop_settings",
        "update_desktop_settings",
        "set_viewing",
        "report_startup",
        "read_logs",
        "install_update",
        "list_accounts",
        "test_email_account",
        "add_email_account",
        "test_whatsapp_account",
        "add_whatsapp_account",
        "test_twilio_account",
        "add_twilio_account",
        "test_meta_accounts",
        "add_meta_accounts",
        "test_telegram_account",
        "add_telegram_account",
        "webhook_info",
        "remove_account",
        "refresh",
        "list_conversations",
        "get_conversation",
        "mark_read",
        "reply_window",
        "whatsapp_templates",
        "message_details",
        "send_reply",
        "retry_message",
        "forward_message",
        "describe_files",
        "search",
        "open_attachment",
        "save_attachment",
        "open_link",
        "message_source",
        "get_settings",
        "update_settings",
        "get_oauth_clients",
        "set_oauth_client",
        "set_status",
        "set_pinned",
        "add_note",
        "view_counts",
        "list_conversations_filtered",
        "list_saved_views",
        "save_view",
        "delete_view",
        "get_care_settings",
        "update_care_settings",
        "care_report",
        "export_report_csv",
        "archive_conversation",
        "conversation_contact",
        "contact_suggestions",
        "dismiss_suggestion",
        "merge_contacts",
        "undo_merge",
        "rename_contact",
        "set_contact_notes",
        "list_tags",
        "create_tag",
        "update_tag",
        "delete_tag",
        "tag_conversation",
        "tag_contact",
        "find_contacts",
        "list_canned_replies",
        "save_canned_reply",
        "delete_canned_reply",
        "render_canned_reply",
        "email_presets",
        "email_preset_for_address",
        "email_oauth_sign_in",
        "email_sign_in_again",
        "cancel_email_sign_in",
    ]
}
