//! The text fields of the volume descriptors: checked before anything is
//! written, never cut short silently.
//!
//! | field | primary (bytes) | Joliet (UCS-2 characters) | ECMA-119 set |
//! |---|---|---|---|
//! | system identifier | 32 | 16 | a-characters |
//! | volume identifier | 32 | 16 | d-characters |
//! | volume set identifier | 128 | 64 | d-characters |
//! | publisher, data preparer, application | 128 | 64 | a-characters |
//! | copyright, abstract, bibliographic file | 37 | 18 | d-characters, `.` `;` |
//!
//! A primary field that is too long is an error, as xorriso and genisoimage
//! refuse such text. Characters outside the ECMA-119 set are accepted (both
//! peers write lower case and other bytes as given) unless strict naming is
//! asked for. The Joliet descriptor repeats the primary's text in UCS-2, so
//! its fields hold half as many characters: text the caller gave for Joliet
//! alone must fit, while a Joliet copy made from the primary's text is
//! shortened to fit with a warning, as xorriso does ("-volid text is too
//! long for Joliet").

use crate::error::{FieldError, FieldProblem, TextField};

use super::builder::{BuildOptions, VolumeText};

/// Characters a Joliet field holds: two bytes each.
pub fn joliet_limit(field: TextField) -> usize {
    field.bytes() / 2
}

/// Checks one field of the primary (`joliet` false) or Joliet descriptor.
/// Under `strict`, a primary field must also keep to its ECMA-119 set.
pub fn check_field(
    field: TextField,
    text: &str,
    joliet: bool,
    strict: bool,
) -> Result<(), FieldError> {
    let (len, limit) = if joliet {
        (text.encode_utf16().count(), joliet_limit(field))
    } else {
        (text.len(), field.bytes())
    };
    if len > limit {
        return Err(FieldError {
            field,
            joliet,
            problem: FieldProblem::TooLong { len, limit },
        });
    }
    if strict && !joliet {
        let allowed = field.charset();
        let mut invalid: Vec<char> = Vec::new();
        for c in text.chars() {
            if !allowed.contains(c) && !invalid.contains(&c) {
                invalid.push(c);
            }
        }
        if !invalid.is_empty() {
            return Err(FieldError {
                field,
                joliet,
                problem: FieldProblem::Characters { invalid, allowed },
            });
        }
    }
    Ok(())
}

/// The longest prefix of `text` that fits a Joliet field, cut between
/// characters (never inside a surrogate pair).
pub fn fit_joliet(field: TextField, text: &str) -> &str {
    let limit = joliet_limit(field);
    let mut units = 0;
    for (i, c) in text.char_indices() {
        units += c.len_utf16();
        if units > limit {
            return text.get(..i).unwrap_or(text);
        }
    }
    text
}

/// The text of `field` in `t`.
fn get(t: &VolumeText, field: TextField) -> &str {
    match field {
        TextField::SystemId => &t.system_id,
        TextField::VolumeId => &t.volume_id,
        TextField::VolumeSetId => &t.volume_set_id,
        TextField::Publisher => &t.publisher,
        TextField::Preparer => &t.preparer,
        TextField::Application => &t.application,
        TextField::CopyrightFile => &t.file_ids[0],
        TextField::AbstractFile => &t.file_ids[1],
        TextField::BibliographicFile => &t.file_ids[2],
    }
}

fn get_mut(t: &mut VolumeText, field: TextField) -> &mut String {
    match field {
        TextField::SystemId => &mut t.system_id,
        TextField::VolumeId => &mut t.volume_id,
        TextField::VolumeSetId => &mut t.volume_set_id,
        TextField::Publisher => &mut t.publisher,
        TextField::Preparer => &mut t.preparer,
        TextField::Application => &mut t.application,
        TextField::CopyrightFile => &mut t.file_ids[0],
        TextField::AbstractFile => &mut t.file_ids[1],
        TextField::BibliographicFile => &mut t.file_ids[2],
    }
}

impl BuildOptions {
    /// The primary descriptor's text fields.
    pub fn primary_text(&self) -> VolumeText {
        VolumeText {
            system_id: self.system_id.clone(),
            volume_id: self.volume_id.clone(),
            volume_set_id: self.volume_set_id.clone(),
            publisher: self.publisher.clone(),
            preparer: self.preparer.clone(),
            application: self.application.clone(),
            file_ids: self.file_ids.clone(),
            application_use: self.application_use.clone().unwrap_or_default(),
        }
    }

    /// Checks every descriptor text field (see the [module](self) for the
    /// rules). [`Builder::plan`](super::Builder::plan) does the same; a
    /// caller may check first so that bad text fails before any work.
    pub fn check_text(&self) -> Result<(), FieldError> {
        let primary = self.primary_text();
        for field in TextField::ALL {
            check_field(field, get(&primary, field), false, self.strict_names)?;
        }
        if let (true, Some(j)) = (self.joliet, &self.joliet_text) {
            for field in TextField::ALL {
                check_field(field, get(j, field), true, false)?;
            }
        }
        Ok(())
    }

    /// With Joliet on and no Joliet text of its own, the Joliet copy of
    /// each primary field, shortened where it does not fit: the text to
    /// record (when any field was shortened) and one warning per field.
    pub(crate) fn joliet_copy(&self) -> (Option<VolumeText>, Vec<String>) {
        if !self.joliet || self.joliet_text.is_some() {
            return (None, Vec::new());
        }
        let mut copy = self.primary_text();
        let mut warnings = Vec::new();
        for field in TextField::ALL {
            let text = get_mut(&mut copy, field);
            let fit = fit_joliet(field, text);
            if fit.len() < text.len() {
                warnings.push(format!(
                    "the Joliet {} holds {} characters: {:?} is recorded there as {fit:?}",
                    field.name(),
                    joliet_limit(field),
                    text
                ));
                *text = fit.to_string();
            }
        }
        ((!warnings.is_empty()).then_some(copy), warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CharSet;

    #[test]
    fn primary_limits_are_the_field_sizes() {
        let ok = "A".repeat(32);
        assert!(check_field(TextField::VolumeId, &ok, false, false).is_ok());
        let e = check_field(TextField::VolumeId, &"A".repeat(40), false, false).unwrap_err();
        assert_eq!(e.problem, FieldProblem::TooLong { len: 40, limit: 32 });
        assert!(check_field(TextField::Publisher, &"P".repeat(128), false, false).is_ok());
        assert!(check_field(TextField::Publisher, &"P".repeat(129), false, false).is_err());
        // Bytes count in the primary descriptor: 17 two-byte characters.
        assert!(check_field(TextField::SystemId, &"é".repeat(17), false, false).is_err());
        // Joliet counts UCS-2 characters.
        assert!(check_field(TextField::VolumeId, &"é".repeat(16), true, false).is_ok());
        assert!(check_field(TextField::VolumeId, &"é".repeat(17), true, false).is_err());
    }

    #[test]
    fn strict_names_the_characters_outside_the_set() {
        assert!(check_field(TextField::VolumeId, "My-disc", false, false).is_ok());
        let e = check_field(TextField::VolumeId, "My-disc v1", false, true).unwrap_err();
        assert_eq!(
            e.problem,
            FieldProblem::Characters {
                invalid: vec!['y', '-', 'd', 'i', 's', 'c', ' ', 'v'],
                allowed: CharSet::D
            }
        );
        assert!(check_field(TextField::Publisher, "ACME, INC.", false, true).is_ok());
        assert!(check_field(TextField::Publisher, "ACME@HOME", false, true).is_err());
    }

    #[test]
    fn joliet_copies_are_shortened_between_characters() {
        assert_eq!(
            fit_joliet(TextField::VolumeId, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
            "ABCDEFGHIJKLMNOP"
        );
        // A character outside the BMP takes two units and is not split.
        let t = format!("{}😀", "A".repeat(15));
        assert_eq!(fit_joliet(TextField::VolumeId, &t), "A".repeat(15));
        let mut o = BuildOptions {
            volume_id: "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345".into(),
            ..BuildOptions::default()
        };
        let (copy, warnings) = o.joliet_copy();
        assert_eq!(copy.unwrap().volume_id, "ABCDEFGHIJKLMNOP");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(o.check_text().is_ok());
        o.joliet_text = Some(o.primary_text());
        let e = o.check_text().unwrap_err();
        assert!(e.joliet);
        assert_eq!(e.problem, FieldProblem::TooLong { len: 32, limit: 16 });
    }
}
