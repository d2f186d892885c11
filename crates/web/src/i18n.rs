//! Japanese and English: chosen by `?lang=`, then the `ui_lang` cookie,
//! then the browser's `Accept-Language`.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::cookies::{LANG_COOKIE, cookie};

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

/// (key, English, Japanese)
const TEXTS: &[(&str, &str, &str)] = &[
    ("title", "User import", "ユーザー一括登録"),
    ("sign_in", "Sign in", "サインイン"),
    ("sign_out", "Sign out", "サインアウト"),
    (
        "login",
        "Login ID or e-mail",
        "ログインIDまたはメールアドレス",
    ),
    ("password", "Password", "パスワード"),
    (
        "login_failed",
        "The login ID or password is wrong, or this account may not use this page.",
        "ログインIDかパスワードが違うか、このアカウントはこのページを使えません。",
    ),
    (
        "login_throttled",
        "Too many failed sign-ins: try again later.",
        "サインインの失敗が多すぎます。しばらくしてからお試しください。",
    ),
    ("signed_in_as", "Signed in as", "サインイン中:"),
    ("other_lang", "日本語", "English"),
    ("start", "Start", "開始"),
    (
        "download_template",
        "Download the template",
        "テンプレートをダウンロード",
    ),
    ("download_users", "Download users", "ユーザーをダウンロード"),
    ("profile", "Profile", "プロファイル"),
    ("charset", "Character set", "文字コード"),
    (
        "groups_filter",
        "Only these groups (comma-separated)",
        "次のグループのみ(カンマ区切り)",
    ),
    (
        "where",
        "Only users with FIELD=VALUE (comma-separated)",
        "条件 項目=値(カンマ区切り)",
    ),
    ("random_n", "Random sample of N users", "ランダムにN人"),
    (
        "columns",
        "Columns (comma-separated; blank = all)",
        "列(カンマ区切り、空欄ですべて)",
    ),
    ("file", "File to import", "取り込むファイル"),
    (
        "drop_here",
        "Choose a file, or drop it here",
        "ファイルを選択するか、ここにドロップしてください",
    ),
    ("options", "Import options", "取り込みオプション"),
    ("mode", "Mode", "モード"),
    ("merge", "Existing values", "既存の値"),
    ("merge_overwrite", "overwrite", "上書き"),
    (
        "merge_keep",
        "keep existing (fill blanks only)",
        "既存を保持(空欄のみ補完)",
    ),
    (
        "key",
        "Match users by (fallback order)",
        "ユーザーの照合キー(優先順)",
    ),
    (
        "generate_passwords",
        "Random passwords for new users without one",
        "パスワード未入力の新規ユーザーにランダムなパスワードを設定",
    ),
    (
        "update_passwords",
        "Passwords in the file change existing users' passwords",
        "既存ユーザーのパスワードも更新",
    ),
    (
        "skip_invalid",
        "Apply the valid rows even when others have errors",
        "エラーのある行を除いて適用",
    ),
    (
        "default_group",
        "Default group for new users",
        "新規ユーザーの既定グループ",
    ),
    ("card_id_type", "Card ID notation", "カードIDの表記"),
    ("header_row", "Header row (line number)", "見出し行(行番号)"),
    ("delimiter", "Delimiter", "区切り文字"),
    ("mapping", "Column mapping", "列の対応付け"),
    (
        "mapping_help",
        "Leave blank to match by header; write a header to use, or none to ignore the field.",
        "空欄なら見出しで自動対応。使う見出し名、または none(使わない)を入力します。",
    ),
    ("field", "Field", "項目"),
    ("header", "Header in the file", "ファイルの見出し"),
    (
        "upload_check",
        "Upload and check",
        "アップロードしてチェック",
    ),
    ("check", "Check", "チェック結果"),
    ("file_facts", "File", "ファイル"),
    ("encoding", "Encoding", "文字コード"),
    ("rows", "Rows", "行数"),
    ("header_line", "Header line", "見出し行"),
    ("counts", "What will happen", "実行される内容"),
    ("create", "Created", "新規"),
    ("update", "Updated", "更新"),
    ("delete", "Deleted", "削除"),
    ("unchanged", "Unchanged", "変更なし"),
    ("invalid", "Rows with errors", "エラーのある行"),
    ("errors", "Errors", "エラー"),
    ("warnings", "Warnings", "警告"),
    ("issues", "Issues", "問題点"),
    ("only_errors", "Show only errors", "エラーのみ表示"),
    ("line", "Line", "行"),
    ("column", "Column", "列"),
    ("code", "Code", "コード"),
    ("severity", "Severity", "重要度"),
    ("message", "Message", "内容"),
    ("value", "Value", "値"),
    ("fix", "Fix", "修正"),
    ("fix_recheck", "Save and check again", "保存して再チェック"),
    (
        "download_errors",
        "Download the error report",
        "エラーレポートをダウンロード",
    ),
    (
        "download_file",
        "Download the (corrected) file",
        "(修正済み)ファイルをダウンロード",
    ),
    (
        "download_changes",
        "Download the changes",
        "変更内容をダウンロード",
    ),
    (
        "preview",
        "Preview of the first rows as mapped",
        "先頭行のプレビュー(対応付け後)",
    ),
    ("reupload", "Re-upload", "再アップロード"),
    ("back", "Back", "戻る"),
    ("execute", "Execute", "実行"),
    ("execute_title", "Execute the import", "取り込みを実行"),
    (
        "invite",
        "Send an invitation e-mail to new users",
        "新規ユーザーに招待メールを送る",
    ),
    (
        "invite_template",
        "Invitation template (Subject: line, blank line, body)",
        "招待メールのテンプレート(Subject: 行、空行、本文)",
    ),
    ("send_at", "Send at (blank = now)", "送信日時(空欄で即時)"),
    ("cancel", "Cancel", "キャンセル"),
    (
        "not_clean",
        "Fix the errors before executing (or choose to apply the valid rows).",
        "実行する前にエラーを修正してください(またはエラー行を除いて適用)。",
    ),
    (
        "jobs",
        "Imports and background jobs",
        "取り込みとバックグラウンド処理",
    ),
    ("job", "Job", "ジョブ"),
    ("status", "Status", "状態"),
    ("progress", "Progress", "進捗"),
    ("results", "Results", "結果"),
    (
        "download_results",
        "Download the results",
        "結果をダウンロード",
    ),
    ("failed", "Failed", "失敗"),
    ("no_jobs", "No jobs yet.", "ジョブはまだありません。"),
    ("applied", "Applied", "適用しました"),
    ("started", "Started", "開始"),
    ("eta", "left", "残り"),
    ("error", "Error", "エラー"),
    ("header_lang", "Header language", "見出しの言語"),
    ("lang_en", "English", "英語"),
    ("lang_ja", "Japanese", "日本語"),
    ("delete_results", "Delete the results", "結果を削除"),
    (
        "delete_results_help",
        "Results are kept until you delete them.",
        "結果は削除するまで保存されます。",
    ),
    ("discard", "Discard this upload", "このアップロードを破棄"),
    ("choose_template", "Template", "テンプレート"),
    ("template_default", "Built-in", "標準"),
    ("template_server", "Offered by the server", "サーバー提供"),
    ("template_used", "Used on", "使用日"),
    ("check_template", "Check the template", "テンプレートを確認"),
    (
        "template_ok",
        "The template is valid. Preview:",
        "テンプレートは有効です。プレビュー:",
    ),
];

impl Lang {
    /// The language a request asks for.
    pub fn of(headers: &HeaderMap, query: Option<&str>) -> Lang {
        let asked = query
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("lang=")))
            .or_else(|| cookie(headers, LANG_COOKIE));
        if let Some(code) = asked.and_then(Lang::parse) {
            return code;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best = (Lang::En, -1.0f32);
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag)
                && q > best.1
            {
                best = (lang, q);
            }
        }
        best.0
    }

    fn parse(tag: &str) -> Option<Lang> {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code (`en`, `ja`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The other language (for the switch link).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// A text of the page.
    pub fn t(self, key: &str) -> &'static str {
        TEXTS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, en, ja)| if self == Lang::Ja { *ja } else { *en })
            .unwrap_or("")
    }

    /// Every text, for a template.
    pub fn texts(self) -> BTreeMap<&'static str, &'static str> {
        TEXTS
            .iter()
            .map(|(k, en, ja)| (*k, if self == Lang::Ja { *ja } else { *en }))
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(&parts.headers, parts.uri.query()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `t.KEY` names a template uses.
    fn keys_in(source: &str) -> Vec<&str> {
        source
            .match_indices("t.")
            .filter(|(i, _)| {
                // `{{ t.x }}`, `{% if t.x %}`: a word boundary before `t`.
                *i == 0 || !source.as_bytes()[i - 1].is_ascii_alphanumeric()
            })
            .map(|(i, _)| {
                let rest = &source[i + 2..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .filter(|k| !k.is_empty())
            .collect()
    }

    #[test]
    fn every_text_a_template_shows_exists_in_both_languages() {
        let templates = [
            include_str!("../templates/base.html"),
            include_str!("../templates/login.html"),
            include_str!("../templates/start.html"),
            include_str!("../templates/check.html"),
            include_str!("../templates/jobs.html"),
        ];
        let mut seen = 0;
        for source in templates {
            for key in keys_in(source) {
                seen += 1;
                assert!(!Lang::En.t(key).is_empty(), "no English text for {key}");
                assert!(!Lang::Ja.t(key).is_empty(), "no Japanese text for {key}");
            }
        }
        assert!(seen > 50, "the templates were read ({seen} texts)");
        for key in [
            "header_lang",
            "delete_results",
            "choose_template",
            "check_template",
        ] {
            assert_ne!(Lang::En.t(key), Lang::Ja.t(key), "{key} is translated");
        }
    }
}
