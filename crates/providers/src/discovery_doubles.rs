//! Development doubles of the discovery providers: deterministic, plausible Saudi data and no
//! network, so SEARCH and REVEAL run end to end without keys. The same query always gives the
//! same places (a second SEARCH finds duplicates); the same domain the same contacts.

use leadzone_ports::discovery::{
    ApiKey, Contact, ContactsProvider, Place, PlaceQuery, PlacesPage, PlacesProvider, ProviderError,
};

/// The most places one query yields over all its pages (Google's limit too).
pub const DEV_PLACES_MAX_RESULTS: usize = 60;

const PAGE_TOKEN_PREFIX: &str = "dev-page-";

/// A business the double knows: names, category and web domain.
struct Business {
    name_ar: &'static str,
    name_en: &'static str,
    category_ar: &'static str,
    category_en: &'static str,
    types: &'static [&'static str],
    domain: &'static str,
}

const BUSINESSES: [Business; 12] = [
    Business {
        name_ar: "مطعم البيت الشامي",
        name_en: "Al Bait Al Shami Restaurant",
        category_ar: "مطعم",
        category_en: "Restaurant",
        types: &["restaurant", "food", "point_of_interest", "establishment"],
        domain: "albaitalshami.com.sa",
    },
    Business {
        name_ar: "مقهى حبة البن",
        name_en: "Habbat Al Bunn Cafe",
        category_ar: "مقهى",
        category_en: "Cafe",
        types: &["cafe", "food", "point_of_interest", "establishment"],
        domain: "habbatalbunn.sa",
    },
    Business {
        name_ar: "صيدلية الدواء الأمين",
        name_en: "Al Dawaa Al Ameen Pharmacy",
        category_ar: "صيدلية",
        category_en: "Pharmacy",
        types: &["pharmacy", "health", "point_of_interest", "establishment"],
        domain: "aldawaa-alameen.com.sa",
    },
    Business {
        name_ar: "مجمع النخبة الطبي",
        name_en: "Al Nukhba Medical Complex",
        category_ar: "عيادة طبية",
        category_en: "Medical Clinic",
        types: &["medical_clinic", "doctor", "health", "point_of_interest", "establishment"],
        domain: "alnukhba-medical.sa",
    },
    Business {
        name_ar: "مؤسسة الإتقان للمقاولات",
        name_en: "Al Itqan Contracting Est.",
        category_ar: "مقاول عام",
        category_en: "General Contractor",
        types: &["general_contractor", "point_of_interest", "establishment"],
        domain: "alitqan-contracting.com.sa",
    },
    Business {
        name_ar: "معهد المستقبل للتدريب",
        name_en: "Al Mustaqbal Training Institute",
        category_ar: "مركز تدريب",
        category_en: "Training Centre",
        types: &["school", "point_of_interest", "establishment"],
        domain: "almustaqbal-training.sa",
    },
    Business {
        name_ar: "مغسلة الوطنية للسيارات",
        name_en: "Al Wataniya Car Wash",
        category_ar: "مغسلة سيارات",
        category_en: "Car Wash",
        types: &["car_wash", "point_of_interest", "establishment"],
        domain: "alwataniya-carwash.com.sa",
    },
    Business {
        name_ar: "حلويات الفخامة",
        name_en: "Al Fakhama Sweets",
        category_ar: "محل حلويات",
        category_en: "Confectionery",
        types: &["confectionery", "food", "store", "point_of_interest", "establishment"],
        domain: "alfakhama-sweets.sa",
    },
    Business {
        name_ar: "شركة الأفق العقارية",
        name_en: "Al Ofuq Real Estate Co.",
        category_ar: "وكالة عقارية",
        category_en: "Real Estate Agency",
        types: &["real_estate_agency", "point_of_interest", "establishment"],
        domain: "alofuq-realestate.com.sa",
    },
    Business {
        name_ar: "صالون لمسة جمال",
        name_en: "Lamsat Jamal Beauty Salon",
        category_ar: "صالون تجميل",
        category_en: "Beauty Salon",
        types: &["beauty_salon", "point_of_interest", "establishment"],
        domain: "lamsatjamal.sa",
    },
    Business {
        name_ar: "مكتب الريادة للمحاماة",
        name_en: "Al Riyada Law Firm",
        category_ar: "مكتب محاماة",
        category_en: "Lawyer",
        types: &["lawyer", "point_of_interest", "establishment"],
        domain: "alriyada-law.com.sa",
    },
    Business {
        name_ar: "مخبز الحطب",
        name_en: "Al Hatab Bakery",
        category_ar: "مخبز",
        category_en: "Bakery",
        types: &["bakery", "food", "store", "point_of_interest", "establishment"],
        domain: "alhatab-bakery.sa",
    },
];

/// A city the double recognises in a query, with the words that name it and five districts.
struct City {
    name_ar: &'static str,
    name_en: &'static str,
    /// Lower-case words (Arabic and English spellings) that name the city in a query.
    words: &'static [&'static str],
    /// The landline area code after +966.
    area_code: &'static str,
    districts: [(&'static str, &'static str); 5],
}

const CITIES: [City; 6] = [
    City {
        name_ar: "الرياض",
        name_en: "Riyadh",
        words: &["الرياض", "riyadh"],
        area_code: "11",
        districts: [
            ("العليا", "Al Olaya"),
            ("الملز", "Al Malaz"),
            ("النخيل", "Al Nakheel"),
            ("السليمانية", "As Sulimaniyah"),
            ("الياسمين", "Al Yasmin"),
        ],
    },
    City {
        name_ar: "جدة",
        name_en: "Jeddah",
        words: &["جدة", "جده", "jeddah", "jedda", "jiddah"],
        area_code: "12",
        districts: [
            ("الروضة", "Al Rawdah"),
            ("الحمراء", "Al Hamra"),
            ("الشاطئ", "Ash Shati"),
            ("البوادي", "Al Bawadi"),
            ("السلامة", "As Salamah"),
        ],
    },
    City {
        name_ar: "الدمام",
        name_en: "Dammam",
        words: &["الدمام", "dammam"],
        area_code: "13",
        districts: [
            ("الفيصلية", "Al Faisaliyah"),
            ("الشاطئ", "Ash Shati"),
            ("الفيحاء", "Al Faiha"),
            ("النزهة", "An Nuzhah"),
            ("الجلوية", "Al Jalawiyah"),
        ],
    },
    City {
        name_ar: "مكة",
        name_en: "Mecca",
        words: &["مكة", "مكه", "mecca", "makkah"],
        area_code: "12",
        districts: [
            ("العزيزية", "Al Aziziyah"),
            ("الشوقية", "Ash Shawqiyah"),
            ("النسيم", "An Naseem"),
            ("الزاهر", "Az Zahir"),
            ("العوالي", "Al Awali"),
        ],
    },
    City {
        name_ar: "المدينة",
        name_en: "Medina",
        words: &["المدينة", "medina", "madinah"],
        area_code: "14",
        districts: [
            ("قباء", "Quba"),
            ("العزيزية", "Al Aziziyah"),
            ("سلطانة", "Sultanah"),
            ("العيون", "Al Uyun"),
            ("الحرة الشرقية", "Al Harrah Ash Sharqiyah"),
        ],
    },
    City {
        name_ar: "الخبر",
        name_en: "Khobar",
        words: &["الخبر", "khobar"],
        area_code: "13",
        districts: [
            ("الثقبة", "Ath Thuqbah"),
            ("العقربية", "Al Aqrabiyah"),
            ("الراكة", "Ar Rakah"),
            ("اليرموك", "Al Yarmouk"),
            ("الخبر الشمالية", "North Khobar"),
        ],
    },
];

/// 64-bit FNV-1a: stable across Rust versions and processes (unlike `DefaultHasher`).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // Separate the parts so ("ab","c") and ("a","bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The city the query names (as a whole word, possibly with the Arabic prefix ب/و/ل attached),
/// else Riyadh.
fn city_of(text: &str) -> &'static City {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let names = |city: &City, word: &str| {
        city.words.iter().any(|name| {
            word == *name || ["ب", "و", "ل", "في"].iter().any(|prefix| word.strip_prefix(prefix) == Some(*name))
        })
    };
    CITIES
        .iter()
        .find(|city| words.iter().any(|w| names(city, w)))
        .or_else(|| CITIES.first())
        .unwrap_or(&RIYADH_FALLBACK)
}

/// Only reached if `CITIES` were empty; keeps `city_of` total without indexing.
const RIYADH_FALLBACK: City =
    City {
        name_ar: "الرياض", name_en: "Riyadh", words: &[], area_code: "11", districts: [("العليا", "Al Olaya"); 5]
    };

/// `n` decimal digits drawn from `seed`.
fn digits(seed: u64, n: usize) -> String {
    let mut value = seed;
    (0..n)
        .map(|_| {
            // A 64-bit LCG step (Knuth's MMIX constants); the high bits are the well-mixed ones.
            value = value.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            char::from(b'0' + u8::try_from((value >> 33) % 10).unwrap_or(0))
        })
        .collect()
}

/// The development places provider.
#[derive(Debug, Clone, Default)]
pub struct DevPlaces;

impl DevPlaces {
    pub fn new() -> Self {
        Self
    }

    /// The `index`th (0-based) place of a query.
    fn place(query_hash: u64, index: usize, city: &City, arabic: bool) -> Option<Place> {
        let count = BUSINESSES.len();
        let shift = usize::try_from(query_hash % 1_000).unwrap_or(0);
        let business = BUSINESSES.get((index + shift) % count)?;
        let (district_ar, district_en) = city.districts.get((index / count + shift) % city.districts.len())?;
        let n = u64::try_from(index).unwrap_or(0);
        let seed = fnv1a(&[&query_hash.to_le_bytes(), &n.to_le_bytes()]);
        let phone = if index.is_multiple_of(2) {
            let first = ["0", "3", "4", "5", "6", "8", "9"].get(usize::try_from(seed % 7).unwrap_or(0)).unwrap_or(&"5");
            format!("+9665{first}{}", digits(seed >> 3, 7))
        } else {
            let first = 2 + seed % 3;
            format!("+966{}{first}{}", city.area_code, digits(seed >> 3, 6))
        };
        Some(Place {
            place_id: format!("dev_{query_hash:016x}_{}", index + 1),
            name: if arabic {
                format!("{} - {district_ar}", business.name_ar)
            } else {
                format!("{} - {district_en}", business.name_en)
            },
            phone: Some(phone),
            website: (index % 4 != 3).then(|| format!("https://www.{}", business.domain)),
            category: Some(if arabic { business.category_ar } else { business.category_en }.to_owned()),
            types: business.types.iter().map(|t| (*t).to_owned()).collect(),
            city: Some(if arabic { city.name_ar } else { city.name_en }.to_owned()),
            maps_url: Some(format!("https://maps.google.com/?cid={}", 1 + seed % 9_000_000_000_000_000_000)),
            rating: Some(3.5 + f64::from(u8::try_from(seed % 15).unwrap_or(0)) / 10.0),
            rating_count: Some(12 + u32::try_from((seed >> 8) % 1_900).unwrap_or(0)),
        })
    }
}

#[async_trait::async_trait]
impl PlacesProvider for DevPlaces {
    async fn search_page(
        &self,
        _key: &ApiKey,
        query: &PlaceQuery,
        page_token: Option<String>,
    ) -> Result<PlacesPage, ProviderError> {
        let text = normalise(&query.text);
        if text.is_empty() {
            return Ok(PlacesPage::default());
        }
        let page_size = usize::try_from(query.page_size.clamp(1, 20)).unwrap_or(20);
        let page = match page_token.as_deref() {
            None => 1,
            Some(token) => token
                .strip_prefix(PAGE_TOKEN_PREFIX)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n >= 2)
                .ok_or_else(|| ProviderError::Rejected(format!("DevPlaces does not know the page token {token:?}")))?,
        };
        let start = (page - 1).saturating_mul(page_size).min(DEV_PLACES_MAX_RESULTS);
        let end = start.saturating_add(page_size).min(DEV_PLACES_MAX_RESULTS);
        let query_hash = fnv1a(&[text.as_bytes()]);
        let city = city_of(&text);
        let arabic = query.language.trim().eq_ignore_ascii_case("ar");
        let places = (start..end).filter_map(|i| Self::place(query_hash, i, city, arabic)).collect();
        let next_page_token = (end < DEV_PLACES_MAX_RESULTS).then(|| format!("{PAGE_TOKEN_PREFIX}{}", page + 1));
        Ok(PlacesPage { places, next_page_token })
    }

    async fn check_key(&self, _key: &ApiKey) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// A person the contacts double may know at a domain.
struct Person {
    first: &'static str,
    last: &'static str,
    local_part: &'static str,
    position: &'static str,
    source_path: &'static str,
}

const GENERAL_MANAGER: Person = Person {
    first: "Ahmed",
    last: "Al-Qahtani",
    local_part: "ahmed.alqahtani",
    position: "General Manager",
    source_path: "/about",
};

const STAFF: [Person; 5] = [
    Person {
        first: "Sara",
        last: "Al-Otaibi",
        local_part: "sara.alotaibi",
        position: "Marketing Manager",
        source_path: "/team",
    },
    Person {
        first: "Mohammed",
        last: "Al-Harbi",
        local_part: "mohammed.alharbi",
        position: "Sales Manager",
        source_path: "/contact",
    },
    Person {
        first: "Noura",
        last: "Al-Dosari",
        local_part: "noura.aldosari",
        position: "Operations Manager",
        source_path: "/team",
    },
    Person {
        first: "Khalid",
        last: "Al-Shehri",
        local_part: "khalid.alshehri",
        position: "Business Development Manager",
        source_path: "/contact",
    },
    Person {
        first: "Reem",
        last: "Al-Zahrani",
        local_part: "reem.alzahrani",
        position: "HR Manager",
        source_path: "/careers",
    },
];

/// The development contacts provider: two or three people per domain, the same ones every time.
#[derive(Debug, Clone, Default)]
pub struct DevContacts;

impl DevContacts {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait::async_trait]
impl ContactsProvider for DevContacts {
    async fn domain_search(&self, _key: &ApiKey, domain: &str) -> Result<Vec<Contact>, ProviderError> {
        let domain = domain.trim().trim_end_matches('.').to_lowercase();
        if domain.is_empty() {
            return Err(ProviderError::Rejected("DevContacts needs a domain to search".to_owned()));
        }
        let hash = fnv1a(&[domain.as_bytes()]);
        let extra = 1 + usize::try_from(hash % 2).unwrap_or(0);
        let first_staff = usize::try_from((hash >> 1) % 5).unwrap_or(0);
        let people = std::iter::once(&GENERAL_MANAGER)
            .chain((0..extra).filter_map(|i| STAFF.get((first_staff + i) % STAFF.len())));
        let confidences = [92_u8, 85, 78];
        Ok(people
            .zip(confidences)
            .enumerate()
            .map(|(i, (person, confidence))| Contact {
                email: format!("{}@{domain}", person.local_part),
                first_name: Some(person.first.to_owned()),
                last_name: Some(person.last.to_owned()),
                position: Some(person.position.to_owned()),
                phone: (i == 0).then(|| format!("+9665{}", digits(hash, 8))),
                confidence,
                sources: vec![format!("https://{domain}{}", person.source_path)],
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn city_is_found_as_a_word_only() {
        assert_eq!(city_of("مطاعم في جدة").name_en, "Jeddah");
        assert_eq!(city_of("restaurants in al khobar").name_en, "Khobar");
        assert_eq!(city_of("صيدليات بالدمام").name_en, "Dammam");
        assert_eq!(city_of("مكاتب الخبرة").name_en, "Riyadh");
        assert_eq!(city_of("cafes").name_en, "Riyadh");
    }

    fn query(text: &str, language: &str, page_size: u32) -> PlaceQuery {
        PlaceQuery { text: text.into(), language: language.into(), page_size }
    }

    async fn all_pages(query: &PlaceQuery) -> (Vec<Place>, Vec<usize>) {
        let key = ApiKey::new("dev");
        let (mut places, mut sizes, mut token) = (Vec::new(), Vec::new(), None);
        loop {
            let page = DevPlaces::new().search_page(&key, query, token).await.unwrap();
            sizes.push(page.places.len());
            places.extend(page.places);
            match page.next_page_token {
                Some(next) => token = Some(next),
                None => break,
            }
            assert!(sizes.len() < 100, "the pages never end");
        }
        (places, sizes)
    }

    #[tokio::test]
    async fn dev_places_are_saudi_deterministic_and_paged() {
        let q = query("مطاعم في جدة", "ar", 20);
        let (places, sizes) = all_pages(&q).await;
        assert_eq!(sizes, vec![20, 20, 20]);
        assert_eq!(places.len(), DEV_PLACES_MAX_RESULTS);
        for place in &places {
            let phone = place.phone.as_deref().unwrap();
            assert!(phone.starts_with("+966") && phone.len() == 13, "{phone}");
            assert!(phone.chars().skip(1).all(|c| c.is_ascii_digit()), "{phone}");
            assert!(place.name.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)), "{}", place.name);
            assert_eq!(place.city.as_deref(), Some("جدة"));
            assert!(
                place.place_id.starts_with("dev_")
                    && place.place_id.ends_with(&format!("_{}", 1 + places.iter().position(|p| p == place).unwrap()))
            );
            if let Some(site) = &place.website {
                assert!(site.ends_with(".sa"), "{site}");
            }
            assert!(place.rating.is_some_and(|r| (3.5..=4.9).contains(&r)));
        }
        assert!(places.iter().any(|p| p.phone.as_deref().is_some_and(|x| x.starts_with("+9665"))));
        assert!(places.iter().any(|p| p.phone.as_deref().is_some_and(|x| x.starts_with("+96612"))));
        let mut ids: Vec<_> = places.iter().map(|p| p.place_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 60, "ids are unique");
        let mut names: Vec<_> = places.iter().map(|p| p.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 60, "names are unique");

        // The same query, again: the same places (a second search finds duplicates).
        let (again, _) = all_pages(&q).await;
        assert_eq!(again, places);
        // Another query: other ids. English: English names, same ids as the Arabic query.
        let (other, _) = all_pages(&query("pharmacies in Riyadh", "en", 20)).await;
        assert!(other.iter().all(|p| !ids.contains(&p.place_id)));
        assert_eq!(other.first().and_then(|p| p.city.as_deref()), Some("Riyadh"));
        let (english, _) = all_pages(&query("مطاعم في جدة", "en", 20)).await;
        assert_eq!(english.first().map(|p| &p.place_id), places.first().map(|p| &p.place_id));
        assert!(english.iter().all(|p| p.name.is_ascii()));
    }

    #[tokio::test]
    async fn dev_places_respect_the_page_size() {
        let (places, sizes) = all_pages(&query("cafes", "en", 7)).await;
        assert_eq!(sizes, vec![7, 7, 7, 7, 7, 7, 7, 7, 4]);
        assert_eq!(places.len(), 60);
        assert_eq!(places.first().and_then(|p| p.city.as_deref()), Some("Riyadh"));
        let page = DevPlaces::new().search_page(&ApiKey::new("k"), &query("cafes", "en", 50), None).await.unwrap();
        assert_eq!(page.places.len(), 20, "Google's page limit");
        assert_eq!(page.next_page_token.as_deref(), Some("dev-page-2"));
        let bad = DevPlaces::new().search_page(&ApiKey::new("k"), &query("cafes", "en", 20), Some("x".into())).await;
        assert!(matches!(bad, Err(ProviderError::Rejected(_))));
        assert_eq!(DevPlaces::new().check_key(&ApiKey::new("anything")).await, Ok(()));
    }

    #[tokio::test]
    async fn dev_contacts_are_deterministic_per_domain() {
        let key = ApiKey::new("dev");
        let contacts = DevContacts::new().domain_search(&key, "albaitalshami.com.sa").await.unwrap();
        assert!((2..=3).contains(&contacts.len()));
        let gm = contacts.first().unwrap();
        assert_eq!(gm.email, "ahmed.alqahtani@albaitalshami.com.sa");
        assert_eq!(gm.position.as_deref(), Some("General Manager"));
        assert_eq!(gm.confidence, 92);
        assert_eq!(gm.sources, vec!["https://albaitalshami.com.sa/about".to_owned()]);
        assert!(gm.phone.as_deref().is_some_and(|p| p.starts_with("+9665") && p.len() == 13));
        assert!(contacts.iter().all(|c| c.email.ends_with("@albaitalshami.com.sa")));
        assert_eq!(DevContacts::new().domain_search(&key, "ALBAITALSHAMI.com.sa").await.unwrap(), contacts);

        let mut counts = std::collections::BTreeSet::new();
        for domain in ["a.sa", "b.sa", "c.com.sa", "d.sa", "e.sa", "f.sa"] {
            counts.insert(DevContacts::new().domain_search(&key, domain).await.unwrap().len());
        }
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), vec![2, 3], "both sizes occur");
        assert!(DevContacts::new().domain_search(&key, " ").await.is_err());
    }

    #[test]
    fn digits_are_digits() {
        let d = digits(0xdead_beef_1234_5678, 8);
        assert_eq!(d.len(), 8);
        assert!(d.chars().all(|c| c.is_ascii_digit()));
    }
}
