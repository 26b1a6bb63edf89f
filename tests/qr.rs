//! `waviot-support-bot qr`: sticker sheets whose QR codes decode back to the deep links.

use std::path::Path;
use std::process::{Command, Output};

use waviot_support_bot::qr::Layout;

const BOT: &str = "waviot_test_bot";

/// A temporary folder, removed when the returned guard is dropped.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("qr-test-{name}-"))
        .tempdir()
        .expect("temp dir")
}

fn qr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"))
        .arg("qr")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BOT_CONFIG")
        .env_remove("TELOXIDE_TOKEN")
        .output()
        .expect("the command runs")
}

/// The QR code of every sticker on a PNG page rendered at `dpi`, decoded, sorted. Each
/// sticker is cut out and read on its own, as a phone camera does (a whole sheet of aligned
/// codes confuses the decoder's finder-pattern grouping). Cells without a code are skipped.
fn decode_png(path: &Path, layout: Layout, dpi: f64) -> Vec<String> {
    let png = std::fs::read(path).expect("PNG written");
    let pixmap = resvg::tiny_skia::Pixmap::decode_png(&png).expect("a valid PNG");
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let (page_w, _) = layout.page_mm();
    assert!(
        (w as f64 - page_w * dpi / 25.4).abs() <= 1.0,
        "{w} px wide at {dpi} dpi"
    );
    let pixels = pixmap.pixels();
    let px = |mm: f64| (mm * dpi / 25.4).round() as usize;
    let (cell_w, cell_h) = Layout::STICKER_MM;
    let mut links = Vec::new();
    for i in 0..layout.per_page() {
        let (x0, y0) = layout.position(i);
        let (x0, y0, cw, ch) = (px(x0), px(y0), px(cell_w), px(cell_h));
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(cw, ch, |x, y| {
            let p = pixels[((y0 + y).min(h - 1)) * w + (x0 + x).min(w - 1)];
            ((u16::from(p.red()) + u16::from(p.green()) + u16::from(p.blue())) / 3) as u8
        });
        let grids = img.detect_grids();
        assert!(grids.len() <= 1, "one code per sticker");
        links.extend(
            grids
                .iter()
                .map(|g| g.decode().expect("the code decodes").1),
        );
    }
    links.sort();
    links
}

fn link(payload: &str) -> String {
    format!("https://t.me/{BOT}?start={payload}")
}

#[test]
fn qr_help_names_every_option() {
    let out = qr(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--station",
        "--modem",
        "--csv",
        "--out",
        "--bot-username",
        "--labels",
        "--lang",
        "--dpi",
        "line N: problem",
    ] {
        assert!(help.contains(option), "{option} in\n{help}");
    }
}

#[test]
fn a_png_sheet_from_a_csv_decodes_to_exactly_the_expected_links_and_bad_lines_are_reported() {
    let tmp = temp_dir("csv");
    let dir = tmp.path();
    let csv = dir.join("objects.csv");
    std::fs::write(
        &csv,
        "\u{feff}# from the spreadsheet\nstation,1234\nmodem,7A48AC\n77\n\nБС;0x1f\n\
         meter,123\nmodem,8013997\nstation,12x\n\"modem\",\"XYZ\"\n",
    )
    .expect("csv written");
    let out_png = dir.join("sheet.png");
    let out = qr(&[
        "--csv",
        csv.to_str().expect("utf-8 path"),
        "--bot-username",
        BOT,
        "--out",
        out_png.to_str().expect("utf-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "bad lines make the exit status 1");
    for line in ["line 7: ", "line 9: ", "line 10: "] {
        assert!(stderr.contains(line), "{line} in\n{stderr}");
    }
    assert_eq!(stderr.matches("line ").count(), 3, "{stderr}");
    assert!(
        stderr.contains("12x"),
        "the problem names the value: {stderr}"
    );

    let mut want: Vec<String> = ["bs-1234", "m-7A48AC", "bs-77", "bs-1F", "m-7A48AD"]
        .iter()
        .map(|p| link(p))
        .collect();
    want.sort();
    assert_eq!(decode_png(&out_png, Layout::Sheet, 200.0), want);
}

#[test]
fn repeated_flags_give_numbered_pages_and_labels_fit_one_code_per_page() {
    let tmp = temp_dir("pages");
    let dir = tmp.path();
    let stations: Vec<String> = (1000..1016).map(|n| n.to_string()).collect();
    let mut args: Vec<&str> = Vec::new();
    for s in &stations {
        args.extend(["--station", s]);
    }
    let out_png = dir.join("sheet.png");
    let out_str = out_png.to_str().expect("utf-8 path").to_owned();
    args.extend(["--bot-username", BOT, "--dpi", "150", "--out", &out_str]);
    let out = qr(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = decode_png(&dir.join("sheet-1.png"), Layout::Sheet, 150.0);
    let second = decode_png(&dir.join("sheet-2.png"), Layout::Sheet, 150.0);
    let mut want: Vec<String> = (1000..1015).map(|n| link(&format!("bs-{n}"))).collect();
    want.sort();
    assert_eq!(first, want);
    assert_eq!(second, [link("bs-1015")]);

    let label = dir.join("label.png");
    let out = qr(&[
        "--modem",
        "12345678",
        "--labels",
        "--bot-username",
        "@waviot_test_bot",
        "--out",
        label.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        decode_png(&label, Layout::Labels, 200.0),
        [link("m-BC614E")],
        "decimal IDs are printed as hex"
    );
}

#[test]
fn pdf_and_svg_output_hold_every_page_without_needing_a_font() {
    let tmp = temp_dir("pdf");
    let dir = tmp.path();
    let pdf = dir.join("sheet.pdf");
    let mut args = vec!["--bot-username", BOT, "--out"];
    let pdf_str = pdf.to_str().expect("utf-8 path").to_owned();
    args.push(&pdf_str);
    let stations: Vec<String> = (1..=20).map(|n| n.to_string()).collect();
    for s in &stations {
        args.extend(["--station", s]);
    }
    let out = qr(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(bytes.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("/Count 2"), "two A4 pages");
    assert!(text.contains("/MediaBox [0 0 595.2"), "A4 pages");

    let svg = dir.join("one.svg");
    let out = qr(&[
        "--station",
        "1234",
        "--bot-username",
        BOT,
        "--out",
        svg.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg).expect("SVG written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    assert!(!svg.contains("<text"), "text is turned into outlines");
}

#[test]
fn without_objects_or_a_username_the_command_explains_what_is_missing() {
    let out = qr(&["--out", "/tmp/never.png", "--bot-username", BOT]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to print"));
    let out = qr(&["--station", "1", "--out", "/tmp/never.png"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bot-username"));
    let out = qr(&[
        "--station",
        "1",
        "--bot-username",
        BOT,
        "--out",
        "/tmp/x.jpg",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg, .png or .pdf"));
}
