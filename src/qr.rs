//! QR sticker sheets: each sticker opens the bot with its base station or modem known.
//!
//! A sticker carries the QR code of `https://t.me/<bot>?start=<payload>` (the payload is
//! [`SiteObject::payload`]), the object in large type, one line of instruction and the
//! hotline; all text comes from the locales (`sticker-*`). Pages are built as SVG (millimetre
//! units, the QR as one path of dark modules), then written as SVG (text turned into
//! outlines), PNG (rasterised with `resvg`) or PDF (vector, through `svg2pdf`). The font
//! (DejaVu Sans Condensed) is compiled in, so output is the same on any machine, with or
//! without system fonts.
//!
//! A4 sheets hold a 3 × 5 grid of 63 × 55 mm stickers with cut lines; `Layout::Labels` makes
//! one sticker-sized page per sticker, for label printers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use intake_core::domain::SiteObject;
use intake_core::msg::Msg;
use qrcode::{Color, EcLevel, QrCode};
use resvg::{tiny_skia, usvg};

use crate::i18n::Localizer;

/// A4 width, mm.
const A4_W: f64 = 210.0;
/// A4 height, mm.
const A4_H: f64 = 297.0;
/// Sticker width, mm.
const CELL_W: f64 = 63.0;
/// Sticker height, mm.
const CELL_H: f64 = 55.0;
/// Stickers per row and per column of an A4 sheet.
const COLS: usize = 3;
const ROWS: usize = 5;
/// Side of the QR code including its quiet zone, mm.
const QR_SIDE: f64 = 34.0;
/// Quiet zone around the code, in modules (the standard asks for 4).
const QUIET_MODULES: usize = 4;
/// Points per millimetre (PDF units).
const PT_PER_MM: f64 = 72.0 / 25.4;
/// Family the pages ask for; only the compiled-in faces are available to the renderer.
const FONT_FAMILY: &str = "DejaVu Sans Condensed";

/// How stickers are laid out on pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A4 pages with a 3 × 5 grid and cut lines.
    Sheet,
    /// One sticker-sized page per sticker (label printers).
    Labels,
}

impl Layout {
    /// Width and height of one sticker, mm.
    pub const STICKER_MM: (f64, f64) = (CELL_W, CELL_H);

    /// Stickers per page.
    pub fn per_page(self) -> usize {
        match self {
            Self::Sheet => COLS * ROWS,
            Self::Labels => 1,
        }
    }

    /// Page width and height, mm.
    pub fn page_mm(self) -> (f64, f64) {
        match self {
            Self::Sheet => (A4_W, A4_H),
            Self::Labels => (CELL_W, CELL_H),
        }
    }

    /// Top-left corner (mm) of the `i`-th sticker of a page.
    pub fn position(self, i: usize) -> (f64, f64) {
        match self {
            Self::Sheet => (
                (A4_W - CELL_W * COLS as f64) / 2.0 + (i % COLS) as f64 * CELL_W,
                (A4_H - CELL_H * ROWS as f64) / 2.0 + (i / COLS) as f64 * CELL_H,
            ),
            Self::Labels => (0.0, 0.0),
        }
    }
}

/// Output format, chosen by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Vector SVG, one file per page.
    Svg,
    /// Raster PNG, one file per page.
    Png,
    /// Vector PDF, all pages in one file.
    Pdf,
}

impl Format {
    /// The format named by `path`'s extension (`.svg`, `.png`, `.pdf`, any case).
    ///
    /// # Errors
    ///
    /// Any other extension, or none.
    pub fn from_path(path: &Path) -> anyhow::Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(Self::Svg),
            Some("png") => Ok(Self::Png),
            Some("pdf") => Ok(Self::Pdf),
            _ => bail!(
                "--out {}: the extension must be .svg, .png or .pdf",
                path.display()
            ),
        }
    }
}

/// One sticker: the link its code opens and the text printed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sticker {
    /// `https://t.me/<bot>?start=<payload>`.
    pub link: String,
    /// The object in large type, e.g. `БС 1234`.
    pub title: String,
    /// One line of instruction.
    pub instruction: String,
    /// The hotline number.
    pub hotline: String,
}

/// The deep link that opens `bot` with `object` known.
pub fn deep_link(bot_username: &str, object: &SiteObject) -> String {
    format!(
        "https://t.me/{}?start={}",
        bot_username.trim_start_matches('@'),
        object.payload()
    )
}

/// Checks a bot username as Telegram allows it: 5–32 of `A-Z a-z 0-9 _` (a leading `@` is
/// dropped).
///
/// # Errors
///
/// Anything else, so that no sticker is printed with a link that cannot work.
pub fn bot_username(input: &str) -> anyhow::Result<String> {
    let name = input.trim().trim_start_matches('@');
    let ok = (5..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!("bot username `{input}` must be 5-32 characters of A-Z, a-z, 0-9 and _");
    }
    Ok(name.to_owned())
}

/// The stickers of `objects`, texts in `lang`.
pub fn stickers(
    objects: &[SiteObject],
    bot_username: &str,
    i18n: &Localizer,
    lang: &str,
) -> Vec<Sticker> {
    let instruction = i18n.text(lang, "sticker-instruction");
    let hotline = i18n.text(lang, "sticker-hotline");
    objects
        .iter()
        .map(|o| Sticker {
            link: deep_link(bot_username, o),
            title: i18n.render(
                lang,
                &Msg::new("sticker-title")
                    .arg("object", o.kind())
                    .arg("id", o.id()),
            ),
            instruction: instruction.clone(),
            hotline: hotline.clone(),
        })
        .collect()
}

/// Objects read from `--station`, `--modem` and the lines of a `--csv` file, and the
/// problems found (`--station X: …`, `line N: …`), rendered in `lang`.
#[derive(Debug, Default)]
pub struct Objects {
    /// Valid objects, in the order given.
    pub objects: Vec<SiteObject>,
    /// One line per rejected input; nothing is printed for it.
    pub problems: Vec<String>,
}

impl Objects {
    /// Reads the command's inputs. Blank lines and lines starting with `#` are skipped.
    pub fn read(
        stations: &[String],
        modems: &[String],
        csv: Option<&str>,
        i18n: &Localizer,
        lang: &str,
    ) -> Self {
        let mut out = Self::default();
        for s in stations {
            match SiteObject::station(s) {
                Ok(o) => out.objects.push(o),
                Err(m) => out
                    .problems
                    .push(format!("--station {s}: {}", i18n.render(lang, &m))),
            }
        }
        for s in modems {
            match SiteObject::modem(s) {
                Ok(o) => out.objects.push(o),
                Err(m) => out
                    .problems
                    .push(format!("--modem {s}: {}", i18n.render(lang, &m))),
            }
        }
        for (i, line) in csv.unwrap_or_default().lines().enumerate() {
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match SiteObject::from_sheet_line(line) {
                Ok(o) => out.objects.push(o),
                Err(m) => out
                    .problems
                    .push(format!("line {}: {}", i + 1, i18n.render(lang, &m))),
            }
        }
        out
    }
}

/// The pages, as SVG documents in millimetres.
///
/// # Errors
///
/// A link too long for a QR code (cannot happen with a valid username and payload).
pub fn page_svgs(stickers: &[Sticker], layout: Layout) -> anyhow::Result<Vec<String>> {
    let (page_w, page_h) = layout.page_mm();
    stickers
        .chunks(layout.per_page())
        .map(|page| {
            let mut svg = format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="{page_w}mm" height="{page_h}mm" viewBox="0 0 {page_w} {page_h}"><rect width="{page_w}" height="{page_h}" fill="#fff"/>"##
            );
            for (i, sticker) in page.iter().enumerate() {
                let (x, y) = layout.position(i);
                write_sticker(&mut svg, sticker, x, y)?;
            }
            svg.push_str("</svg>");
            Ok(svg)
        })
        .collect()
}

fn write_sticker(svg: &mut String, sticker: &Sticker, x: f64, y: f64) -> anyhow::Result<()> {
    let code = QrCode::with_error_correction_level(sticker.link.as_bytes(), EcLevel::M)
        .with_context(|| format!("cannot encode {} as a QR code", sticker.link))?;
    let width = code.width();
    let module = QR_SIDE / (width + 2 * QUIET_MODULES) as f64;
    let qr_x = x + (CELL_W - QR_SIDE) / 2.0 + QUIET_MODULES as f64 * module;
    let qr_y = y + 1.5 + QUIET_MODULES as f64 * module;
    let cx = x + CELL_W / 2.0;
    // Cut line.
    let _ = write!(
        svg,
        r##"<rect x="{:.3}" y="{:.3}" width="{:.3}" height="{:.3}" rx="2" fill="none" stroke="#b0b0b0" stroke-width="0.2" stroke-dasharray="1 1"/>"##,
        x + 0.3,
        y + 0.3,
        CELL_W - 0.6,
        CELL_H - 0.6
    );
    // Dark modules, one horizontal run per `h` segment.
    let _ = write!(
        svg,
        r##"<path fill="#000" shape-rendering="crispEdges" transform="translate({qr_x:.4} {qr_y:.4}) scale({module:.5})" d=""##
    );
    let colors = code.to_colors();
    for row in 0..width {
        let mut col = 0;
        while col < width {
            if colors[row * width + col] == Color::Dark {
                let start = col;
                while col < width && colors[row * width + col] == Color::Dark {
                    col += 1;
                }
                let _ = write!(svg, "M{start} {row}h{}v1h-{}z", col - start, col - start);
            } else {
                col += 1;
            }
        }
    }
    svg.push_str(r#""/>"#);
    // Long titles (an 8-digit modem ID) shrink to fit the sticker's width.
    let title_size = (56.0 / (sticker.title.chars().count().max(1) as f64 * 0.66)).min(7.5);
    for (text, baseline, size, weight) in [
        (&sticker.title, 43.0, title_size, "bold"),
        (&sticker.instruction, 48.3, 2.7, "normal"),
        (&sticker.hotline, 52.8, 3.8, "bold"),
    ] {
        let _ = write!(
            svg,
            r##"<text x="{cx:.3}" y="{:.3}" font-family="{FONT_FAMILY}, DejaVu Sans" font-size="{size:.2}" font-weight="{weight}" text-anchor="middle" fill="#000">{}</text>"##,
            y + baseline,
            html_escape::encode_text(text)
        );
    }
    Ok(())
}

/// Turns page SVGs into output files, with the compiled-in font.
pub struct Renderer {
    options: usvg::Options<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    /// A renderer whose only fonts are DejaVu Sans Condensed regular and bold.
    pub fn new() -> Self {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(dejavu::sans_condensed::regular().to_vec());
        db.load_font_data(dejavu::sans_condensed::bold().to_vec());
        let options = usvg::Options {
            font_family: FONT_FAMILY.to_owned(),
            fontdb: Arc::new(db),
            ..usvg::Options::default()
        };
        Self { options }
    }

    fn tree(&self, svg: &str) -> anyhow::Result<usvg::Tree> {
        usvg::Tree::from_str(svg, &self.options).context("internal error: a page is not valid SVG")
    }

    /// SVG with text turned into outlines, so it looks the same without the font.
    ///
    /// # Errors
    ///
    /// The page does not parse (a bug).
    pub fn svg(&self, page: &str) -> anyhow::Result<Vec<u8>> {
        let tree = self.tree(page)?;
        Ok(tree.to_string(&usvg::WriteOptions::default()).into_bytes())
    }

    /// A PNG at `dpi` dots per inch.
    ///
    /// # Errors
    ///
    /// The page does not parse, or the image would be too large.
    pub fn png(&self, page: &str, dpi: u32) -> anyhow::Result<Vec<u8>> {
        let tree = self.tree(page)?;
        let size = tree.size();
        // usvg sizes are CSS pixels (96 per inch).
        let scale = dpi as f32 / 96.0;
        let w = (size.width() * scale).round() as u32;
        let h = (size.height() * scale).round() as u32;
        let mut pixmap = tiny_skia::Pixmap::new(w, h)
            .with_context(|| format!("a {w}×{h} image is too large; lower --dpi"))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        pixmap.encode_png().context("PNG encoding failed")
    }

    /// One PDF with every page, each `page_w × page_h` mm.
    ///
    /// # Errors
    ///
    /// A page does not parse or convert.
    pub fn pdf(&self, pages: &[String], page_w: f64, page_h: f64) -> anyhow::Result<Vec<u8>> {
        use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref};

        let mut alloc = Ref::new(1);
        let catalog_id = alloc.bump();
        let tree_id = alloc.bump();
        let mut pdf = Pdf::new();
        let mut page_ids = Vec::new();
        let (w, h) = ((page_w * PT_PER_MM) as f32, (page_h * PT_PER_MM) as f32);
        for page in pages {
            let tree = self.tree(page)?;
            let (chunk, svg_id) = svg2pdf::to_chunk(&tree, svg2pdf::ConversionOptions::default())
                .map_err(|e| anyhow::anyhow!("PDF conversion failed: {e}"))?;
            let mut map = std::collections::HashMap::new();
            let chunk = chunk.renumber(|old| *map.entry(old).or_insert_with(|| alloc.bump()));
            let svg_id = *map
                .get(&svg_id)
                .context("the page object is in its chunk")?;
            let page_id = alloc.bump();
            let content_id = alloc.bump();
            page_ids.push(page_id);
            let name = Name(b"S1");
            let mut p = pdf.page(page_id);
            p.media_box(Rect::new(0.0, 0.0, w, h));
            p.parent(tree_id);
            p.contents(content_id);
            p.resources().x_objects().pair(name, svg_id);
            p.finish();
            let mut content = Content::new();
            content.transform([w, 0.0, 0.0, h, 0.0, 0.0]).x_object(name);
            pdf.stream(content_id, &content.finish());
            pdf.extend(&chunk);
        }
        pdf.catalog(catalog_id).pages(tree_id);
        let count = i32::try_from(page_ids.len()).unwrap_or(i32::MAX);
        pdf.pages(tree_id).kids(page_ids).count(count);
        Ok(pdf.finish())
    }
}

/// What [`write_sheets`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Files written, in page order.
    pub files: Vec<PathBuf>,
    /// Pages rendered.
    pub pages: usize,
}

/// Renders `stickers` to `out` in the format of its extension: one file for a single page
/// or a PDF, else `name-1.ext`, `name-2.ext`, … beside `out`.
///
/// # Errors
///
/// An unknown extension, a rendering failure, or a file that cannot be written.
pub fn write_sheets(
    stickers: &[Sticker],
    layout: Layout,
    out: &Path,
    dpi: u32,
) -> anyhow::Result<Written> {
    let format = Format::from_path(out)?;
    let pages = page_svgs(stickers, layout)?;
    let renderer = Renderer::new();
    let outputs: Vec<(PathBuf, Vec<u8>)> = match format {
        Format::Pdf => {
            let (w, h) = layout.page_mm();
            vec![(out.to_owned(), renderer.pdf(&pages, w, h)?)]
        }
        Format::Svg | Format::Png => pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let path = if pages.len() == 1 {
                    out.to_owned()
                } else {
                    numbered(out, i + 1)
                };
                let bytes = match format {
                    Format::Png => renderer.png(page, dpi)?,
                    _ => renderer.svg(page)?,
                };
                Ok((path, bytes))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let mut files = Vec::new();
    for (path, bytes) in outputs {
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        files.push(path);
    }
    Ok(Written {
        files,
        pages: pages.len(),
    })
}

/// `dir/name.ext` → `dir/name-N.ext`.
fn numbered(path: &Path, n: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{n}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sticker(n: usize) -> Sticker {
        Sticker {
            link: format!("https://t.me/waviot_test_bot?start=bs-{n}"),
            title: format!("БС {n}"),
            instruction: "Наведите камеру — сообщить о проблеме".to_owned(),
            hotline: "8-800-550-51-89".to_owned(),
        }
    }

    #[test]
    fn a_sheet_holds_fifteen_stickers_and_labels_one() {
        let stickers: Vec<Sticker> = (1..=31).map(sticker).collect();
        assert_eq!(page_svgs(&stickers, Layout::Sheet).expect("pages").len(), 3);
        assert_eq!(
            page_svgs(&stickers, Layout::Labels).expect("pages").len(),
            31
        );
    }

    #[test]
    fn text_is_escaped_in_the_svg() {
        let mut s = sticker(1);
        s.title = "<БС & 1>".to_owned();
        let page = &page_svgs(&[s], Layout::Sheet).expect("pages")[0];
        assert!(page.contains("&lt;БС &amp; 1&gt;"), "{page}");
        Renderer::new().svg(page).expect("valid SVG");
    }

    #[test]
    fn usernames_are_checked_and_the_at_sign_dropped() {
        assert_eq!(bot_username("@waviot_bot").expect("ok"), "waviot_bot");
        for bad in ["bot", "waviot-bot", "a".repeat(33).as_str(), ""] {
            assert!(bot_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn several_pages_get_numbered_file_names() {
        assert_eq!(
            numbered(Path::new("out/sheet.png"), 2),
            PathBuf::from("out/sheet-2.png")
        );
        assert!(Format::from_path(Path::new("x.jpg")).is_err());
        assert_eq!(
            Format::from_path(Path::new("x.PDF")).expect("pdf"),
            Format::Pdf
        );
    }
}
