//! Clinical building blocks the archetype stories share: the usual opening
//! (Patient, diagnosis), the diagnostic work-up, values drawn per grade, the
//! liver picture and periodic restaging.

use crate::chart::Gen;
use crate::coding::round1;
use crate::resources::conditions::Syn;
use crate::resources::observations::{Sstr, Status};
use crate::therapy::{Drug, LANREOTIDE, OCTREOTIDE, PASIREOTIDE};
use time::{Date, Duration};

/// Options of the standard diagnostic work-up.
#[derive(Default, Clone)]
pub(super) struct Workup {
    pub(super) ki67: Option<f64>,
    pub(super) mitoses: Option<f64>,
    pub(super) who_grade: Option<u8>,
    pub(super) primary_mm: Option<f64>,
    pub(super) cga: Option<f64>,
    pub(super) pp: Option<f64>,
    pub(super) sstr: Option<Sstr>,
    pub(super) krenning: Option<u8>,
    pub(super) ecog: Option<u8>,
    pub(super) discovery: Option<&'static str>,
}

impl Gen {
    pub(super) fn ki67_for(&mut self, grade: u8) -> f64 {
        let boundary = self.p(0.25);
        match grade {
            1 if boundary => 2.0,
            1 => self.pick(&[0.5, 0.8, 1.0, 1.0, 1.2, 1.5, 1.5, 1.8]),
            2 if boundary => self.pick(&[2.5, 3.0, 20.0]),
            2 => round1(self.r(3.0..19.0)),
            _ if boundary => 20.1,
            _ => round1(self.r(21.0..85.0)),
        }
    }

    pub(super) fn mitoses_for(&mut self, grade: u8) -> f64 {
        match grade {
            1 => self.r(0..=1) as f64,
            2 => self.r(2..=12) as f64,
            _ => self.r(21..=60) as f64,
        }
    }

    pub(crate) fn cga_value(&mut self, lo: f64, hi: f64) -> f64 {
        round1(self.r(lo.ln()..hi.ln()).exp())
    }

    /// Standard work-up from the diagnosis date; returns the board date.
    pub(super) fn workup(&mut self, d0: Date, w: &Workup) -> Date {
        if let Some(mm) = w.primary_mm {
            self.size(d0, mm, false);
        }
        if let Some(mode) = w.discovery {
            self.coded_obs(d0, "exam", "discovery-mode", "Discovery mode", mode);
        }
        let biopsy = d0 + self.days(5, 20);
        if let Some(k) = w.ki67 {
            self.ki67(biopsy, k);
        }
        if let Some(m) = w.mitoses {
            self.mitoses(biopsy, m);
        }
        if let Some(g) = w.who_grade {
            self.who_grade(biopsy, g);
        }
        let lab = d0 + self.days(0, 14);
        if let Some(v) = w.cga {
            self.cga(lab, v);
        }
        if let Some(v) = w.pp {
            self.pp(lab, v);
        }
        if let Some(s) = w.sstr {
            let d = d0 + self.days(14, 40);
            self.sstr(d, s, w.krenning);
        }
        let board = d0 + self.days(35, 60);
        if let Some(e) = w.ecog {
            self.ecog(board, e);
        }
        board
    }

    /// The usual start: Patient, pNET diagnosis, optionally an explicit syndrome.
    pub(super) fn open(&mut self, d0: Date, grade: u8, syndrome: Option<Syn>) {
        let reg = d0 - self.days(1, 90);
        self.patient(reg);
        let dx = d0 + self.days(7, 30);
        self.pnet(dx, grade);
        if let Some(s) = syndrome {
            self.syndrome(dx, s);
        }
    }

    /// Full work-up for a well-differentiated tumour of `grade`.
    pub(super) fn standard_workup(
        &mut self,
        grade: u8,
        primary_mm: f64,
        cga: (f64, f64),
        sstr: Sstr,
        krenning: Option<u8>,
    ) -> Workup {
        let ki67 = self.ki67_for(grade);
        let mitoses = self.p(0.25).then(|| self.mitoses_for(grade));
        let who = self.p(0.1).then_some(grade);
        let cga = self.cga_value(cga.0, cga.1);
        let pp = self.p(0.1).then(|| self.r(80.0..900.0));
        let ecog = self.p(0.4).then(|| self.r(0..=1));
        Workup {
            ki67: Some(ki67),
            mitoses,
            who_grade: who,
            primary_mm: Some(primary_mm),
            cga: Some(cga),
            pp,
            sstr: Some(sstr),
            krenning,
            ecog,
            discovery: None,
        }
    }

    pub(super) fn krenning_positive(&mut self) -> u8 {
        self.r(2..=4)
    }

    /// Liver disease picture at `d`: lesion size, count, involvement.
    pub(super) fn liver_picture(&mut self, d: Date, largest_mm: f64, count: i64, involvement: f64) {
        let with_count = self.p(0.35);
        self.liver_picture_counted(d, largest_mm, with_count.then_some(count), involvement);
    }

    pub(super) fn liver_picture_counted(&mut self, d: Date, largest_mm: f64, count: Option<i64>, involvement: f64) {
        self.size(d, largest_mm, true);
        if let Some(count) = count {
            self.liver_lesions(d, count);
        }
        self.liver_involvement(d, involvement);
    }

    /// Restaging every 3–6 months from `from` while before `until`: status, liver size, CgA.
    pub(super) fn restage(
        &mut self,
        from: Date,
        until: Date,
        status: Status,
        liver_mm: &mut f64,
        growth_mm: f64,
        cga: &mut f64,
    ) -> Date {
        let mut d = from;
        while d < until {
            self.status(d, status);
            *liver_mm += growth_mm;
            if *liver_mm > 0.0 && self.p(0.5) {
                self.size(d, *liver_mm, true);
            }
            if self.p(0.3) {
                *cga *= match status {
                    Status::Worsened => self.r(1.2..1.8),
                    Status::Improved => self.r(0.5..0.9),
                    _ => self.r(0.85..1.15),
                };
                let c = *cga;
                self.cga(d, c);
            }
            d += self.days(85, 200);
        }
        d
    }

    pub(super) fn ssa_drug(&mut self) -> Drug {
        match self.r(0..20) {
            0..=9 => LANREOTIDE,
            10..=18 => OCTREOTIDE,
            _ => PASIREOTIDE,
        }
    }

    /// A birth date making the patient `lo`–`hi` years old at `start`.
    pub(super) fn birth_for_age(&self, lo: i64, hi: i64) -> Date {
        self.start - Duration::days(self.r(lo * 365 + 1..=hi * 365))
    }

    pub(super) fn tag(&mut self, v: &str) {
        self.variant = v.to_string();
    }
}
