//! Exports that are safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`,
//! tab or carriage return is written with a leading `'` (OWASP CSV injection), and an import of
//! the file strips exactly that `'` again, so that export → import creates nothing and changes
//! no name or phone.

use crate::helpers::*;
use serde_json::{Value, json};

/// Runs an export of every lead and returns the downloaded file.
async fn export_all(app: &TestApp, token: &str) -> Vec<u8> {
    let res = app.post("/api/v1/exports", Some(token), &json!({"format": "csv", "filter": {}})).await;
    let export = expect_json(res, 202).await;
    let id = export["job"]["id"].as_str().unwrap().to_owned();
    let done = app.wait_job(token, &id, 30).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let file = app.get(&format!("/api/v1/exports/{id}/download"), Some(token)).await;
    assert_eq!(file.status(), 200);
    file.bytes().await.unwrap().to_vec()
}

/// The exported records (BOM stripped, header included), as the cells a spreadsheet reads
/// (RFC 4180: `"` quotes a field, `""` inside it is one `"`).
fn records(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap()).unwrap();
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "the file ends with a newline");
    rows
}

async fn company_names(app: &TestApp, token: &str) -> Vec<String> {
    let page: Value = app.get_json("/api/v1/leads?limit=100", Some(token)).await;
    let mut names: Vec<String> =
        page["data"].as_array().unwrap().iter().map(|l| l["companyName"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn formula_cells_are_exported_with_a_quote_and_reimport_unchanged() {
    let app = spawn_app().await;
    let owner = app.owner_on("enterprise").await;
    let leads = [
        json!({"companyName": "=cmd|' /C calc'!A0", "city": "Riyadh"}),
        json!({"companyName": "Gulf Phones", "phone": "0501234567", "city": "-Jeddah"}),
        json!({"companyName": "@SUM(1)", "tags": ["-vip", "new"]}),
        json!({"companyName": "=HYPERLINK(\"http://evil.example\",\"click\")"}),
        json!({"companyName": "'=already quoted"}),
        json!({"companyName": "'s Hertogenbosch Trading", "city": "Dammam"}),
        json!({"companyName": "شركة الرياض للتقنية", "phone": "+966509999999"}),
    ];
    for lead in &leads {
        let res = app.create_lead(&owner, lead.clone()).await;
        assert_eq!(res.status(), 201, "{lead}: {}", res.text().await.unwrap());
    }
    let before = company_names(&app, &owner.token).await;

    let bytes = export_all(&app, &owner.token).await;
    let rows = records(&bytes);
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (name, phone, city, tags) = (col("companyName"), col("phone"), col("city"), col("tags"));
    let row_of = |company: &str| {
        rows.iter().find(|r| r[name] == company).unwrap_or_else(|| panic!("no exported row {company:?} in {rows:?}"))
    };
    let cmd = row_of("'=cmd|' /C calc'!A0");
    assert_eq!(cmd[city], "Riyadh", "a harmless cell stays as it is");
    let phones = row_of("Gulf Phones");
    assert_eq!(phones[phone], "'+966501234567", "a phone in E.164 starts with + and is guarded");
    assert_eq!(phones[city], "'-Jeddah");
    assert_eq!(row_of("'@SUM(1)")[tags], "'-vip, new");
    row_of("'=HYPERLINK(\"http://evil.example\",\"click\")");
    row_of("''=already quoted");
    row_of("'s Hertogenbosch Trading");
    assert_eq!(row_of("شركة الرياض للتقنية")[phone], "'+966509999999");
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "no cell starts a formula: {cell:?}");
        }
    }

    // Re-importing the export creates nothing and changes nothing.
    let again: Value = app.import_csv(&owner.token, bytes, "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, again["job"]["id"].as_str().unwrap(), 30).await;
    let r = &job["result"];
    assert_eq!(
        (r["created"].clone(), r["duplicates"].clone(), r["failed"].clone()),
        (json!(0), json!(leads.len()), json!(0)),
        "{job}"
    );
    assert_eq!(app.sql_i64("SELECT count(*) FROM leads").await, leads.len() as i64);
    assert_eq!(company_names(&app, &owner.token).await, before);
    let stored: Value = app.get_json("/api/v1/leads?q=Gulf", Some(&owner.token)).await;
    assert_eq!(stored["data"][0]["phone"], "+966501234567", "{stored}");
    assert_eq!(stored["data"][0]["city"], "-Jeddah", "{stored}");

    // The guarded phone, read back, is still the phone that finds the duplicate: a new name with
    // it creates nothing.
    let csv = "companyName,phone\nAnother Name,'+966501234567\n";
    let res: Value = app.import_csv(&owner.token, csv.as_bytes().to_vec(), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, res["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!((job["result"]["created"].clone(), job["result"]["duplicates"].clone()), (json!(0), json!(1)), "{job}");

    // A `'` that is not a guard stays: `'hello` is imported as it is.
    let csv = "companyName\n'hello world\n";
    let res: Value = app.import_csv(&owner.token, csv.as_bytes().to_vec(), "").await.json().await.unwrap();
    let job = app.wait_job(&owner.token, res["job"]["id"].as_str().unwrap(), 30).await;
    assert_eq!(job["result"]["created"], 1, "{job}");
    assert!(company_names(&app, &owner.token).await.contains(&"'hello world".to_owned()));
}
