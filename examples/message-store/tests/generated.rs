//! Many small variations of the same scenarios: each test writes rows
//! with fixed names and checks exact counts, so two of them sharing a
//! database would fail.

mod common;

use common::{acme, db, store};

/// A channel that gets exactly `n` messages.
macro_rules! history_of {
    ($($name:ident: $n:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut db = db();
            let mut s = store(&mut db);
            let a = acme(&mut s);
            for i in 0..$n {
                s.post(a.general, a.alice, &format!("message {i}"), None).unwrap();
            }
            let history = s.history(a.general, 1000).unwrap();
            assert_eq!(history.len(), $n);
            assert_eq!(history.first().map(|m| m.id), Some(1));
            assert_eq!(s.channel_stats(a.general).unwrap(), (2, $n as i64));
        }
    )*};
}

history_of! {
    history_of_1: 1,
    history_of_2: 2,
    history_of_3: 3,
    history_of_5: 5,
    history_of_8: 8,
    history_of_13: 13,
    history_of_21: 21,
    history_of_34: 34,
    history_of_55: 55,
    history_of_89: 89,
}

/// A tenant named `slug` with exactly `n` users.
macro_rules! tenant_with_users {
    ($($name:ident: $slug:expr, $n:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut db = db();
            let mut s = store(&mut db);
            let t = s.create_tenant($slug, "Generated").unwrap();
            assert_eq!(t, 2);
            for i in 0..$n {
                let id = s
                    .create_user(t, &format!("user{i}"), &format!("user{i}@{}.test", $slug), "User")
                    .unwrap();
                assert_eq!(id, 2 + i as i64);
            }
            assert_eq!(s.count_users(t).unwrap(), $n as i64);
            assert_eq!(s.count_tenants().unwrap(), 2);
        }
    )*};
}

tenant_with_users! {
    tenant_alpha_with_1_user: "alpha", 1,
    tenant_alpha_with_2_users: "alpha", 2,
    tenant_alpha_with_4_users: "alpha", 4,
    tenant_beta_with_3_users: "beta", 3,
    tenant_beta_with_6_users: "beta", 6,
    tenant_gamma_with_7_users: "gamma", 7,
    tenant_gamma_with_10_users: "gamma", 10,
    tenant_delta_with_12_users: "delta", 12,
    tenant_delta_with_15_users: "delta", 15,
    tenant_epsilon_with_20_users: "epsilon", 20,
}

/// `n` users react with the same emoji to one message.
macro_rules! reactions_from {
    ($($name:ident: $emoji:expr, $n:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut db = db();
            let mut s = store(&mut db);
            let a = acme(&mut s);
            let m = s.post(a.general, a.alice, "react to me", None).unwrap();
            let mut users = vec![a.alice, a.bob, a.carol];
            for i in 0..($n as usize).saturating_sub(3) {
                users.push(s.create_user(a.tenant, &format!("fan{i}"), &format!("fan{i}@acme.test"), "Fan").unwrap());
            }
            for u in users.iter().take($n) {
                assert!(s.react(m, *u, $emoji).unwrap());
            }
            assert_eq!(s.reactions(m).unwrap(), vec![($emoji.to_owned(), $n as i64)]);
        }
    )*};
}

reactions_from! {
    one_thumbs_up: "+1", 1,
    two_thumbs_up: "+1", 2,
    three_hearts: "heart", 3,
    five_rockets: "rocket", 5,
    eight_eyes: "eyes", 8,
    thirteen_tada: "tada", 13,
}

/// Settings `key = value` written `n` times, the last one wins.
macro_rules! setting_rewritten {
    ($($name:ident: $key:expr, $n:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut db = db();
            let mut s = store(&mut db);
            let a = acme(&mut s);
            for i in 0..$n {
                s.set_setting(a.bob, $key, &format!("v{i}")).unwrap();
            }
            assert_eq!(s.setting(a.bob, $key).unwrap(), Some(format!("v{}", $n - 1)));
            assert_eq!(s.settings(a.bob).unwrap().len(), 1);
        }
    )*};
}

setting_rewritten! {
    theme_set_once: "theme", 1,
    theme_set_twice: "theme", 2,
    locale_set_three_times: "locale", 3,
    font_set_five_times: "font", 5,
    zoom_set_nine_times: "zoom", 9,
}

/// Echo sessions with `n` answered requests of latency 10·i µs.
macro_rules! echo_session {
    ($($name:ident: $token:expr, $n:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut db = db();
            let mut s = store(&mut db);
            let a = acme(&mut s);
            s.open_session(a.carol, $token, 600).unwrap();
            let mut total = 0;
            for i in 1..=$n {
                let r = s.echo_request($token, format!("p{i}").as_bytes()).unwrap();
                assert_eq!(r, i as i64);
                s.echo_response(r, format!("p{i}").as_bytes(), 10 * i).unwrap();
                total += 10 * i;
            }
            let (req, ans, avg) = s.echo_stats($token).unwrap();
            assert_eq!((req, ans), ($n as i64, $n as i64));
            assert_eq!(avg, Some(total as f64 / $n as f64));
            assert!(s.echo_mismatches($token).unwrap().is_empty());
        }
    )*};
}

echo_session! {
    echo_session_of_1: "s-1", 1,
    echo_session_of_2: "s-2", 2,
    echo_session_of_4: "s-4", 4,
    echo_session_of_8: "s-8", 8,
    echo_session_of_16: "s-16", 16,
}

/// Threads with `n` replies.
macro_rules! thread_with_replies {
    ($($name:ident: $n:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut db = db();
            let mut s = store(&mut db);
            let a = acme(&mut s);
            let root = s.post(a.general, a.alice, "root", None).unwrap();
            assert_eq!(root, 1);
            for i in 0..$n {
                s.post(a.general, a.bob, &format!("reply {i}"), Some(root)).unwrap();
            }
            assert_eq!(s.reply_count(root).unwrap(), $n);
            assert_eq!(s.unread(a.general, a.alice).unwrap(), $n as i64);
            assert_eq!(s.delivery_counts().unwrap(), ((1 + $n) as i64, 0, 0));
        }
    )*};
}

thread_with_replies! {
    thread_with_1_reply: 1,
    thread_with_2_replies: 2,
    thread_with_4_replies: 4,
    thread_with_7_replies: 7,
    thread_with_11_replies: 11,
}
