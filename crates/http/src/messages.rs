//! `errors[].message` in the request's language. Field messages are written in English where the
//! rule lives (domain, app, the body check); this table gives each its Arabic text. Numbers in a
//! message are read as `{n}` so that one entry serves "at most 255 characters" and "at most 100
//! characters"; the list in `one of …` messages stays as the client must send it.

use crate::problem::Lang;
use std::borrow::Cow;

/// English template → Arabic template (`{n}` stands for each number, `{list}` for an enum list).
const TABLE: &[(&str, &str)] = &[
    ("is required", "مطلوب"),
    ("the lead has no website to survey", "لا يوجد للعميل المحتمل موقع إلكتروني لمسحه"),
    (
        "the lead has no website to look up decision makers at",
        "لا يوجد للعميل المحتمل موقع إلكتروني للبحث فيه عن صنّاع القرار",
    ),
    ("required", "مطلوب"),
    ("the lead has no WhatsApp-able phone number", "لا يوجد للعميل المحتمل رقم هاتف يصلح لواتساب"),
    ("is required (or phone)", "مطلوب (أو phone)"),
    ("is required (or message)", "مطلوب (أو message)"),
    ("is not a template of yours", "ليس قالبًا من قوالبك"),
    ("must be MARKETING or UTILITY", "يجب أن يكون MARKETING أو UTILITY"),
    ("must be ar or en", "يجب أن تكون ar أو en"),
    ("give leadId or phone, not both", "أرسل leadId أو phone، لا كليهما"),
    ("give templateId or message, not both", "أرسل templateId أو message، لا كليهما"),
    ("is not a lead id", "ليس معرّف عميل محتمل"),
    ("must name at least one event", "يجب أن يذكر حدثًا واحدًا على الأقل"),
    ("give either a list or a filter, not both", "أرسل قائمة أو مرشحات، لا كليهما"),
    ("the data source has no title property", "مصدر البيانات لا يحتوي على خاصية عنوان"),
    ("is not a property of the data source", "ليست خاصية في مصدر البيانات"),
    ("must be a property name of {n}–{n} characters", "يجب أن يكون اسم خاصية من {n} إلى {n} حرفًا"),
    (
        "must be a Lead field API name (letters, digits, _), not Leadzone_Id__c",
        "يجب أن يكون اسم حقل API في كائن Lead (حروف وأرقام و_)، وليس Leadzone_Id__c",
    ),
    (
        "must be the org's instance URL, like https://acme.my.salesforce.com",
        "يجب أن يكون عنوان نسخة المؤسسة في Salesforce، مثل https://acme.my.salesforce.com",
    ),
    ("must be the data source's id ({n} hex digits)", "يجب أن يكون معرّف مصدر البيانات ({n} خانة سداسية عشرية)"),
    ("must map at least one property", "يجب أن يربط خاصية واحدة على الأقل"),
    ("must be a whole number of minutes from {n} to {n}", "يجب أن يكون عددًا صحيحًا من الدقائق من {n} إلى {n}"),
    (
        "must be a HubSpot property name (lowercase, digits, _)",
        "يجب أن يكون اسم خاصية في HubSpot (حروف صغيرة وأرقام و_)",
    ),
    ("an organization has at most {n} webhooks", "يمكن للمنظمة أن تملك {n} نقاط webhook على الأكثر"),
    ("is not a message status", "ليست حالة رسالة"),
    ("leadIds, listId or filter is required", "مطلوب leadIds أو listId أو filter"),
    ("give one of leadIds, listId or filter", "أرسل واحدًا فقط من leadIds أو listId أو filter"),
    ("no lead you can see was given", "لم يُرسل أي عميل محتمل يمكنك رؤيته"),
    (
        "is required: the template uses it and the lead has no value for it",
        "مطلوب: يستخدمه القالب ولا توجد له قيمة لدى العميل المحتمل",
    ),
    (
        "free text can only be sent within {n} hours of the recipient's last message; send an approved template",
        "لا يمكن إرسال نص حر إلا خلال {n} ساعة من آخر رسالة من المستلم؛ أرسل قالبًا معتمدًا",
    ),
    ("must be the id WhatsApp Manager shows (digits)", "يجب أن يكون المعرّف الذي يظهره WhatsApp Manager (أرقام)"),
    ("has a {{ that is never closed with }}", "يحتوي على {{ لا تُغلق بـ }}"),
    ("has more than {n} variables", "يحتوي على أكثر من {n} متغيرًا"),
    ("must be a string", "يجب أن يكون نصًا"),
    ("must be an integer", "يجب أن يكون عددًا صحيحًا"),
    ("must be a number", "يجب أن يكون رقمًا"),
    ("must be true or false", "يجب أن تكون القيمة true أو false"),
    ("must be a list", "يجب أن يكون قائمة"),
    ("must be a list of strings", "يجب أن يكون قائمة نصوص"),
    ("must be an object", "يجب أن يكون كائن JSON"),
    ("must be a JSON object", "يجب أن يكون كائن JSON"),
    ("must be a UUID", "يجب أن يكون معرّف UUID"),
    ("must be null", "يجب أن يكون null"),
    ("must be an RFC 3339 time", "يجب أن يكون وقتًا بصيغة RFC 3339"),
    ("must be one of {list}", "يجب أن يكون إحدى القيم: {list}"),
    ("must be at most {n} characters", "يجب ألا يزيد على {n} حرفًا"),
    ("must be at least {n} characters", "يجب ألا يقل عن {n} أحرف"),
    ("must not be empty", "يجب ألا يكون فارغًا"),
    ("must be between {n} and {n}", "يجب أن يكون بين {n} و{n}"),
    ("must be at least {n}", "يجب ألا يقل عن {n}"),
    ("must be at most {n}", "يجب ألا يزيد على {n}"),
    ("is out of range", "خارج النطاق المسموح"),
    ("must have at most {n} entries", "يجب ألا يزيد عدد العناصر على {n}"),
    ("must have at least {n} entries", "يجب ألا يقل عدد العناصر عن {n}"),
    ("is not a known field", "ليس حقلًا معروفًا"),
    ("has the wrong type", "نوعه غير صحيح"),
    ("must not contain NUL characters", "يجب ألا يحتوي على محارف NUL"),
    ("must not contain control characters", "يجب ألا يحتوي على محارف تحكم"),
    ("tags must not contain control characters", "يجب ألا تحتوي الوسوم على محارف تحكم"),
    ("is not a valid cursor for this query", "ليس مؤشر صفحات صالحًا لهذا الاستعلام"),
    ("is not a valid cursor", "ليس مؤشر صفحات صالحًا"),
    ("must be an integer from {n} to {n}", "يجب أن يكون عددًا صحيحًا من {n} إلى {n}"),
    ("must be {n}–{n}", "يجب أن يكون من {n} إلى {n}"),
    ("must be a whole number from {n} to {n}", "يجب أن يكون عددًا صحيحًا من {n} إلى {n}"),
    ("is too long", "طويل جدًا"),
    ("is too long (at most {n} characters)", "طويل جدًا (بحد أقصى {n} حرفًا)"),
    ("is not a valid email address", "ليس بريدًا إلكترونيًا صالحًا"),
    ("is not a valid phone number", "ليس رقم هاتف صالحًا"),
    ("is not a valid website URL", "ليس رابط موقع صالحًا"),
    ("must not contain credentials", "يجب ألا يحتوي على بيانات دخول"),
    (
        "must mix at least two kinds of characters (letters, digits, symbols)",
        "يجب أن يجمع نوعين على الأقل من المحارف (حروف، أرقام، رموز)",
    ),
    (
        "must be {n}–{n} lowercase letters, digits or single hyphens",
        "يجب أن يكون من {n} إلى {n} من الحروف الصغيرة أو الأرقام أو الشرطات المفردة",
    ),
    (
        "must be {n}–{n} lowercase letters, digits or underscores",
        "يجب أن يكون من {n} إلى {n} من الحروف الصغيرة أو الأرقام أو الشرطات السفلية",
    ),
    ("must be {n}–{n} characters", "يجب أن يكون من {n} إلى {n} حرفًا"),
    ("must be {n}–{n} visible characters", "يجب أن يكون من {n} إلى {n} حرفًا ظاهرًا"),
    ("was already used with a different request", "استُخدم من قبل مع طلب مختلف"),
    ("no such list", "لا توجد قائمة بهذا المعرّف"),
    ("only a smart list has filters", "الفلاتر للقوائم الذكية فقط"),
    ("must be text/csv or multipart/form-data", "يجب أن يكون text/csv أو multipart/form-data"),
    ("must be live or test", "يجب أن يكون live أو test"),
    ("must be in the future", "يجب أن يكون في المستقبل"),
    ("must be csv", "يجب أن يكون csv"),
    ("must be ar or en", "يجب أن يكون ar أو en"),
    ("must be an active member of this organization", "يجب أن يكون عضوًا نشطًا في هذه المنظمة"),
    (
        "must be an active MANAGER, ADMIN or OWNER of this organization",
        "يجب أن يكون MANAGER أو ADMIN أو OWNER نشطًا في هذه المنظمة",
    ),
    ("a member cannot manage themself", "لا يمكن للعضو أن يدير نفسه"),
    ("must be a static list", "يجب أن تكون قائمة ثابتة"),
    ("must be a list id (UUID)", "يجب أن يكون معرّف قائمة (UUID)"),
    ("must be a colour name or #hex of at most {n} characters", "يجب أن يكون اسم لون أو قيمة #hex بحد أقصى {n} حرفًا"),
    ("must be a JSON object of column → field", "يجب أن يكون كائن JSON يربط الأعمدة بالحقول"),
    ("must be YYYY-MM", "يجب أن يكون بصيغة YYYY-MM"),
    ("must be NOTE, CALL or MEETING", "يجب أن يكون NOTE أو CALL أو MEETING"),
    (
        "must be NEW, PROSPECTED, CONTACTED, QUALIFIED or LOST",
        "يجب أن يكون NEW أو PROSPECTED أو CONTACTED أو QUALIFIED أو LOST",
    ),
    ("must be MONTHLY or YEARLY", "يجب أن يكون MONTHLY أو YEARLY"),
    ("must be HIGH, MEDIUM or LOW", "يجب أن يكون HIGH أو MEDIUM أو LOW"),
    ("must be ADMIN, MANAGER or SALES", "يجب أن يكون ADMIN أو MANAGER أو SALES"),
    ("is required for assign (null unassigns)", "مطلوب لإجراء الإسناد (null يلغي الإسناد)"),
    ("is required for a smart list", "مطلوب للقائمة الذكية"),
    ("is not your current password", "ليست كلمة مرورك الحالية"),
    ("is not an available plan", "ليست خطة متاحة"),
    ("is not an audit event type", "ليس نوع حدث تدقيق"),
    ("is not a valid one-time code", "ليس رمز تحقق صالحًا"),
    ("is not a job type", "ليس نوع مهمة"),
    ("is not a job status", "ليست حالة مهمة"),
    ("is larger than {n} MB", "أكبر من {n} ميغابايت"),
    ("is empty", "فارغ"),
    ("must be sent once", "يجب أن يُرسل مرة واحدة"),
    ("invalid lead", "عميل محتمل غير صالح"),
    ("ids or a filter is required", "يلزم تحديد المعرّفات أو فلتر"),
    ("give ids or a filter, not both", "حدّد المعرّفات أو فلترًا، لا كليهما"),
    ("foundedYear must be between {n} and {n}", "يجب أن تكون سنة التأسيس بين {n} و{n}"),
    ("every decision maker needs a name", "يجب أن يكون لكل صاحب قرار اسم"),
    ("cannot change after creation", "لا يمكن تغييره بعد الإنشاء"),
    ("cannot be changed here; use POST /leads/{id}/status", "لا يمكن تغييره هنا؛ استخدم POST /leads/{id}/status"),
    ("at most {n} lead ids", "بحد أقصى {n} معرّف عميل محتمل"),
    ("at most {n} tags", "بحد أقصى {n} وسمًا"),
    ("each tag must be at most {n} characters", "يجب ألا يزيد كل وسم على {n} حرفًا"),
    ("at least one tag is required", "يلزم وسم واحد على الأقل"),
    ("at least one lead id is required", "يلزم معرّف عميل محتمل واحد على الأقل"),
    (
        "an API key cannot hold billing:manage or tenant:delete",
        "لا يمكن لمفتاح API أن يملك billing:manage أو tenant:delete",
    ),
    ("is not a lead filter", "ليس فلترًا للعملاء المحتملين"),
    ("must not be null (leave it out)", "يجب ألا يكون null (احذفه بدلًا من ذلك)"),
    ("must not be an empty list", "يجب ألا يكون قائمة فارغة"),
    ("must be a string, number, boolean or list of strings", "يجب أن يكون نصًا أو رقمًا أو قيمة منطقية أو قائمة نصوص"),
    ("must be a string or null", "يجب أن يكون نصًا أو null"),
    ("must be a user id (UUID) or null", "يجب أن يكون معرّف مستخدم (UUID) أو null"),
    ("only CUSTOM evidence can be added by hand", "يمكن إضافة أدلة من نوع CUSTOM فقط يدويًا"),
];

/// The message's template: each run of ASCII digits becomes `{n}`, and the numbers in order.
fn template(message: &str) -> (String, Vec<&str>) {
    let mut out = String::with_capacity(message.len());
    let mut numbers = Vec::new();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < message.len() {
        if bytes.get(i).is_some_and(u8::is_ascii_digit) {
            let start = i;
            while bytes.get(i).is_some_and(|b| b.is_ascii_digit() || *b == b'.') {
                i += 1;
            }
            numbers.push(message.get(start..i).unwrap_or(""));
            out.push_str("{n}");
        } else {
            let ch = message.get(i..).and_then(|s| s.chars().next()).unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    (out, numbers)
}

/// The Arabic text of an English field message, or `None` when the table has no entry.
pub fn arabic(message: &str) -> Option<String> {
    if let Some(pattern) = message.strip_prefix("must match ") {
        return Some(format!("يجب أن يطابق النمط {pattern}"));
    }
    if let Some(list) = message.strip_prefix("must be one of ") {
        return TABLE.iter().find(|(en, _)| *en == "must be one of {list}").map(|(_, ar)| ar.replace("{list}", list));
    }
    if let Some((_, ar)) = TABLE.iter().find(|(en, _)| *en == message) {
        return Some((*ar).to_owned());
    }
    let (t, numbers) = template(message);
    let (_, ar) = TABLE.iter().find(|(en, _)| *en == t)?;
    let mut out = (*ar).to_owned();
    for n in numbers {
        out = out.replacen("{n}", n, 1);
    }
    Some(out)
}

/// `message` in `lang` (English messages stay as written; an Arabic one missing from the table
/// falls back to English rather than to nothing).
pub fn localise(message: &str, lang: Lang) -> Cow<'_, str> {
    match lang {
        Lang::En => Cow::Borrowed(message),
        Lang::Ar => arabic(message).map_or(Cow::Borrowed(message), Cow::Owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_lists_are_carried_over() {
        assert_eq!(arabic("is required").as_deref(), Some("مطلوب"));
        assert_eq!(arabic("must be at most 255 characters").as_deref(), Some("يجب ألا يزيد على 255 حرفًا"));
        assert_eq!(arabic("must be between 0 and 100").as_deref(), Some("يجب أن يكون بين 0 و100"));
        assert_eq!(
            arabic("must be one of NEW, LOST").as_deref(),
            Some("يجب أن يكون إحدى القيم: NEW, LOST"),
            "enum values stay as the client must send them"
        );
        assert_eq!(arabic("something new"), None);
        assert_eq!(localise("something new", Lang::Ar), "something new");
        assert_eq!(localise("is required", Lang::En), "is required");
    }

    /// The CRM field-map and connection messages chosen by a `match` (not written at the call).
    #[test]
    fn crm_connection_messages_are_translated() {
        for message in [
            "must be a HubSpot property name (lowercase, digits, _)",
            "must be a Lead field API name (letters, digits, _), not Leadzone_Id__c",
            "must be a property name of 1–100 characters",
            "must be the org's instance URL, like https://acme.my.salesforce.com",
            "must be the data source's id (32 hex digits)",
        ] {
            assert!(arabic(message).is_some_and(|ar| !ar.contains("{n}")), "{message}");
        }
        assert_eq!(
            arabic("must be the data source's id (32 hex digits)").as_deref(),
            Some("يجب أن يكون معرّف مصدر البيانات (32 خانة سداسية عشرية)")
        );
    }

    /// Every field message written as a literal in the crates' sources has an Arabic text: a new
    /// message without one fails here, not in front of an Arabic-speaking user.
    #[test]
    fn every_message_in_the_sources_is_translated() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut missing = Vec::new();
        let mut seen = 0;
        for krate in ["domain", "app", "http"] {
            let dir = root.join(krate).join("src");
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
                let text = text.split("#[cfg(test)]").next().unwrap_or("");
                for message in literal_messages(text) {
                    seen += 1;
                    if arabic(&message).is_none() {
                        missing.push(format!("{}: {message}", entry.path().display()));
                    }
                }
            }
        }
        assert!(seen > 50, "the scan found only {seen} messages: it no longer matches the code");
        assert!(missing.is_empty(), "messages without Arabic text:\n{}", missing.join("\n"));
    }

    /// The second string literal of `field("name", "message")`, `push("name", "message")` and
    /// `FieldError::new("name", "message")`, and the literal of `invalid("message")`.
    fn literal_messages(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for call in ["field(\"", "push(\"", "FieldError::new(\""] {
            for (i, _) in text.match_indices(call) {
                let rest = text.get(i + call.len()..).unwrap_or("");
                let Some(end_name) = rest.find('"') else { continue };
                let after = rest.get(end_name + 1..).unwrap_or("").trim_start();
                let Some(after) = after.strip_prefix(',') else { continue };
                let after = after.trim_start();
                if let Some(m) = after.strip_prefix('"').and_then(|m| m.split('"').next()) {
                    out.push(m.to_owned());
                }
            }
        }
        for (i, _) in text.match_indices("invalid(\"") {
            if let Some(m) = text.get(i + 9..).and_then(|m| m.split('"').next()) {
                out.push(m.to_owned());
            }
        }
        out
    }
}
