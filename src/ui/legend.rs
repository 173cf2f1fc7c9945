//! The class legend (main thread): the classes present, each a tag in its colour at the window's right edge;
//! a click selects a class (the confidence slider and Up/Down then set its own threshold), a click on the
//! selected one hides it, a click on a hidden one shows it again.

use std::collections::BTreeSet;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};

use super::hud::Area;
use crate::canvas::{class_colour, draw_tag, fill_rect, text_width};
use crate::class_conf::ClassConf;
use crate::detector::labels;

/// Grey of a hidden class's tag.
const HIDDEN: Rgb<u8> = Rgb([90, 90, 90]);
/// Outline of the selected class's tag; the window test looks for it.
pub const SELECTED: Rgb<u8> = Rgb([255, 255, 255]);

/// What a click on a legend entry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Click {
    Selected,
    Hidden,
    Shown,
}

/// A click on `class`: select it; hide it when it was selected; show (and select) it when hidden.
pub fn click(cc: &mut ClassConf, selected: &mut Option<usize>, class: usize) -> Click {
    if cc.hidden.remove(&class) {
        *selected = Some(class);
        Click::Shown
    } else if *selected == Some(class) {
        cc.hidden.insert(class);
        *selected = None;
        Click::Hidden
    } else {
        *selected = Some(class);
        Click::Selected
    }
}

/// The classes listed: those shown now, hidden ones, ones with a threshold of their own, the selected one.
pub fn classes(shown: impl IntoIterator<Item = usize>, cc: &ClassConf, selected: Option<usize>) -> Vec<usize> {
    let mut all: BTreeSet<usize> = shown.into_iter().collect();
    all.extend(cc.hidden.iter().copied());
    all.extend(cc.per_class.keys().copied());
    all.extend(selected);
    all.into_iter().collect()
}

/// The entry's text: the name, its own threshold when it has one, `hidden` when hidden.
fn text(class: usize, names: &[String], cc: &ClassConf) -> String {
    let name = labels::name(names, class);
    match (cc.hidden.contains(&class), cc.per_class.get(&class)) {
        (true, _) => format!("{name} (hidden)"),
        (false, Some(v)) => format!("{name} {v:.2}"),
        (false, None) => name,
    }
}

/// Draws the entries in a column whose right edge is `right`, from `top` down; returns each entry's area.
#[allow(clippy::too_many_arguments)] // one column of tags: where, what, and the font to write it in
pub fn draw(
    img: &mut RgbImage,
    font: &FontRef,
    scale: PxScale,
    right: i32,
    top: i32,
    list: &[usize],
    names: &[String],
    cc: &ClassConf,
    selected: Option<usize>,
) -> Vec<(usize, Area)> {
    let th = scale.y.ceil() as i32 + 4;
    let mut at = Vec::with_capacity(list.len());
    for (i, &class) in list.iter().enumerate() {
        let t = text(class, names, cc);
        let tw = text_width(font, scale, &t).ceil() as i32 + 6;
        let area = Area { x: right - tw, y: top + i as i32 * (th + 4), w: tw, h: th };
        if selected == Some(class) {
            fill_rect(img, area.x - 2, area.y - 2, area.w + 4, area.h + 4, SELECTED);
        }
        let bg = if cc.hidden.contains(&class) { HIDDEN } else { class_colour(class) };
        draw_tag(img, font, scale, area.x, area.y, &t, bg);
        at.push((class, area));
    }
    at
}

/// The legend entry under the mouse, if any.
pub fn hit(items: &[(usize, Area)], (mx, my): (f32, f32)) -> Option<usize> {
    let (x, y) = (mx as i32, my as i32);
    items.iter().find(|(_, a)| x >= a.x && x < a.x + a.w && y >= a.y && y < a.y + a.h).map(|(c, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_select_then_hide_then_show() {
        let mut cc = ClassConf::default();
        let mut selected = None;
        assert_eq!(click(&mut cc, &mut selected, 0), Click::Selected);
        assert_eq!(selected, Some(0));
        // Another class takes the selection.
        assert_eq!(click(&mut cc, &mut selected, 2), Click::Selected);
        assert_eq!(click(&mut cc, &mut selected, 2), Click::Hidden);
        assert_eq!((selected, cc.hidden.contains(&2)), (None, true));
        assert_eq!(click(&mut cc, &mut selected, 2), Click::Shown);
        assert_eq!((selected, cc.hidden.is_empty()), (Some(2), true));
        // Listed: shown now, hidden, with a threshold of their own, selected.
        cc.hidden.insert(7);
        cc.per_class.insert(3, 0.5);
        assert_eq!(classes([5, 0, 5], &cc, Some(2)), [0, 2, 3, 5, 7]);
        let items = [(0, Area { x: 100, y: 10, w: 50, h: 20 }), (3, Area { x: 100, y: 34, w: 50, h: 20 })];
        assert_eq!((hit(&items, (120.0, 40.0)), hit(&items, (99.0, 15.0))), (Some(3), None));
    }
}
