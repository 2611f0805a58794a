//! One window, a blank page, nothing else: what any Tauri 2 app costs before it does anything.

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("error while running the empty window");
}
