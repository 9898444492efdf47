//! Several regions in one run: the real binary against moto, which serves every region from one
//! endpoint and keeps each region's clusters, tasks and logs apart by the request's signature.

use std::process::Command;
use std::time::Duration;

use crate::common::{
    ActionRun, Harness, Setup, env_of, listed_product, result_line, saved_state, wait_until,
};
use serde_json::{Value, json};

const REGIONS: [(&str, &str); 3] = [
    ("us-east-1", "lt-us"),
    ("eu-west-1", "lt-eu"),
    ("ap-southeast-2", "lt-ap"),
];

/// A cluster, a task definition and a security group in each region, and the inputs that name
/// them: the first region's by the inputs, the others' by `region-settings`.
fn three_regions(harness: &Harness, repositories: bool) -> (Vec<Setup>, Vec<(String, String)>) {
    let setups: Vec<Setup> = REGIONS
        .iter()
        .map(|(region, cluster)| {
            let repository = format!("tester-{}", &cluster[3..]);
            harness.setup_in(region, cluster, repositories.then_some(&repository))
        })
        .collect();
    let mut settings = serde_json::Map::new();
    for ((region, _), setup) in REGIONS.iter().zip(&setups).skip(1) {
        let mut place = json!({
            "cluster": setup.cluster,
            "subnets": setup.subnets,
            "security-groups": [setup.security_group],
        });
        if repositories {
            place["ecr-repository"] = json!(format!("tester-{}", &setup.cluster[3..]));
        }
        settings.insert(region.to_string(), place);
    }
    let first = &setups[0];
    let mut inputs = vec![
        ("cluster".to_string(), first.cluster.clone()),
        ("task-definition".to_string(), "tester".to_string()),
        ("subnets".to_string(), first.subnets.join(",")),
        ("security-groups".to_string(), first.security_group.clone()),
        (
            "regions".to_string(),
            "us-east-1: 50%\neu-west-1: 30%\nap-southeast-2: 20%".to_string(),
        ),
        (
            "region-settings".to_string(),
            Value::Object(settings).to_string(),
        ),
        ("task-count".to_string(), "7".to_string()),
    ];
    if repositories {
        inputs.push(("ecr-repository".to_string(), "tester-us".to_string()));
    } else {
        inputs.push((
            "image".to_string(),
            "public.ecr.aws/acme/tester:1".to_string(),
        ));
    }
    (setups, inputs)
}

fn run_with(harness: &Harness, inputs: &[(String, String)], extra: &[(&str, &str)]) -> ActionRun {
    let mut all: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    for (name, value) in extra {
        all.retain(|(input, _)| input != name);
        all.push((name, value));
    }
    ActionRun::new(harness, &all)
}

/// Task `index`'s samples: its region's latency, so that each region's percentiles are known.
fn samples(index: usize) -> Vec<u64> {
    let latency_us = match index {
        0..=3 => 10_000,
        4..=5 => 50_000,
        _ => 200_000,
    };
    vec![latency_us; 100 + index]
}

#[test]
fn seven_tasks_in_three_regions_each_in_its_place_merged_exactly_overall_and_by_region() {
    let harness = Harness::start();
    let (setups, inputs) = three_regions(&harness, false);
    for (_, cluster) in REGIONS {
        // Each cluster's tasks log the result of their TASK_INDEX.
        let tasks: serde_json::Map<String, Value> = (0..7)
            .map(|task| {
                let line = result_line(100 + task as u64, task as u64, 2_000, &samples(task));
                (task.to_string(), json!({"logs": {"lines": [line]}}))
            })
            .collect();
        harness.script(cluster, json!({}), Value::Object(tasks));
    }

    let run = run_with(
        &harness,
        &inputs,
        &[
            ("rate", "70"),
            ("duration", "2s"),
            (
                "thresholds",
                "p95{region=us-east-1} < 20ms\np95{region=ap-southeast-2} < 100ms\nerrors{region=eu-west-1} == 9",
            ),
        ],
    )
    .run();

    // The ap-southeast-2 rule fails (a threshold's exit status), and only it.
    run.assert_code(99);
    run.assert_stdout_has("threshold `p95{region=ap-southeast-2} < 100ms` failed");
    // Each region's tasks were started in its own cluster, with its own network and its own
    // revision, in its own region, and the shares add up.
    let mut rates = 0;
    for (((region, cluster), setup), indexes) in
        REGIONS
            .iter()
            .zip(&setups)
            .zip([vec!["0", "1", "2", "3"], vec!["4", "5"], vec!["6"]])
    {
        let tasks = harness.tasks_in(region, cluster);
        let mut seen: Vec<String> = tasks
            .iter()
            .map(|task| env_of(task, "TASK_INDEX").unwrap())
            .collect();
        seen.sort();
        assert_eq!(seen, indexes, "{region}");
        for task in &tasks {
            assert_eq!(task["lastStatus"], "STOPPED", "{task:#}");
            let arn = task["arn"].as_str().unwrap();
            assert!(arn.starts_with(&format!("arn:aws:ecs:{region}:")), "{arn}");
            let revision = task["taskDefinitionArn"].as_str().unwrap();
            assert!(
                revision.starts_with(&format!("arn:aws:ecs:{region}:"))
                    && revision.ends_with("task-definition/tester:2"),
                "{revision}"
            );
            let network = &task["networkConfiguration"]["awsvpcConfiguration"];
            assert_eq!(network["subnets"], json!(setup.subnets), "{region}");
            assert_eq!(
                network["securityGroups"],
                json!([setup.security_group]),
                "{region}"
            );
            assert_eq!(env_of(task, "TASK_COUNT").as_deref(), Some("7"));
            rates += env_of(task, "RATE").unwrap().parse::<u64>().unwrap();
        }
    }
    assert_eq!(rates, 70);

    let results = run.results();
    let merged = &results["merged"];
    assert_eq!(merged["requests"], (0..7).map(|i| 100 + i).sum::<u64>());
    assert_eq!(merged["errors"], 21);
    let regions = merged["regions"].as_array().unwrap();
    let figures: Vec<(&str, u64, u64, u64)> = regions
        .iter()
        .map(|region| {
            (
                region["region"].as_str().unwrap(),
                region["tasks"].as_u64().unwrap(),
                region["requests"].as_u64().unwrap(),
                region["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            ("us-east-1", 4, 406, 6),
            ("eu-west-1", 2, 209, 9),
            ("ap-southeast-2", 1, 106, 6)
        ]
    );
    // Each region's percentiles are its own samples' (HdrHistogram keeps 3 digits).
    for (region, latency_us) in regions.iter().zip([10_000.0, 50_000.0, 200_000.0]) {
        for figure in ["p50_us", "p95_us", "p99_us"] {
            let measured = region[figure].as_f64().unwrap();
            assert!(
                (measured - latency_us).abs() / latency_us < 0.001,
                "{region:#}"
            );
        }
    }
    // Overall: 721 samples, 406 at 10 ms, 209 at 50 ms, 106 at 200 ms; the p95 (the 685th) is
    // 200 ms and the p50 (the 361st) 10 ms: one merge of every sample, not an average of regions.
    let latency = &merged["latency"];
    assert!((latency["p95_us"].as_f64().unwrap() - 200_000.0).abs() < 200.0);
    assert!((latency["p50_us"].as_f64().unwrap() - 10_000.0).abs() < 20.0);
    let tasks = results["tasks"].as_array().unwrap();
    assert_eq!(tasks[6]["region"], "ap-southeast-2");
    // The console's task rows and each task's log group say its region.
    assert!(
        run.stdout
            .lines()
            .any(|line| line.trim_start().starts_with("7  ") && line.contains(" ap-southeast-2  ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .any(|line| line.starts_with("::group::Task 5/7 · ") && line.ends_with(" · eu-west-1")),
        "{}",
        run.stdout
    );

    let summary = run.summary();
    assert!(
        summary.contains(
            "| region | tasks | requests | errors | error rate | throughput | p50 | p95 | p99 |"
        ),
        "{summary}"
    );
    assert!(summary.contains("| eu-west-1 | 2 | 209 | 9 |"), "{summary}");
    run.assert_stdout_has("AWS account 123456789012 as arn:aws:sts::123456789012:user/moto in us-east-1, eu-west-1, ap-southeast-2");
    run.assert_stdout_has("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/lt-eu/tasks/");
}

#[test]
fn sigterm_stops_the_tasks_of_every_region() {
    let harness = Harness::start();
    let (_, inputs) = three_regions(&harness, false);
    for (_, cluster) in REGIONS {
        harness.script(cluster, json!({"run_seconds": null}), json!({}));
    }
    let (child, dir) = run_with(&harness, &inputs, &[]).spawn();
    let running = || {
        REGIONS
            .iter()
            .map(|(region, cluster)| {
                harness
                    .tasks_in(region, cluster)
                    .iter()
                    .filter(|task| task["lastStatus"] == "RUNNING")
                    .count()
            })
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(30), || running() == [4, 2, 1]),
        "{:?}",
        running()
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let run = crate::common::Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    run.assert_stdout_has("Stopped 7 of 7 task(s)");
    assert_eq!(running(), [0, 0, 0]);
}

#[test]
fn a_region_whose_api_fails_keeps_no_other_from_finishing_is_named_and_cleaned_after() {
    let harness = Harness::start();
    let (_, inputs) = three_regions(&harness, false);
    // The tasks of us-east-1 and ap-southeast-2 end by themselves; eu-west-1's run on.
    let ok =
        json!({"run_seconds": 3, "logs": {"lines": [result_line(10, 0, 1_000, &[1_000; 10])]}});
    harness.script("lt-us", ok.clone(), json!({}));
    harness.script("lt-ap", ok, json!({}));
    harness.script("lt-eu", json!({"run_seconds": null}), json!({}));

    let (child, dir) = run_with(&harness, &inputs, &[("timeout-minutes", "0.3")])
        .env("ECS_LOADTEST_AWS_PERSISTENCE", "2s")
        .spawn();
    assert!(wait_until(Duration::from_secs(30), || {
        harness
            .tasks_in("eu-west-1", "lt-eu")
            .iter()
            .filter(|task| task["lastStatus"] == "RUNNING")
            .count()
            == 2
    }));
    // ECS in eu-west-1 answers nothing but 500s from now on.
    harness.outage("eu-west-1", "ecs", 600.0);
    let invocation = saved_state(&dir)["invocation"].clone();
    let run = crate::common::Finished::new(child.wait_with_output().unwrap(), dir);

    run.assert_code(1);
    run.assert_stdout_has(
        "task(s) could not be polled, asked again at the next poll: DescribeTasks of 2 tasks in cluster `lt-eu` in eu-west-1",
    );
    // The other regions' tasks ran to their end and passed.
    let tasks = run.results()["tasks"].as_array().unwrap().clone();
    for task in &tasks {
        let region = task["region"].as_str().unwrap();
        let succeeded = task["succeeded"].as_bool().unwrap();
        assert_eq!(succeeded, region != "eu-west-1", "{task:#}");
    }
    for (region, cluster) in [("us-east-1", "lt-us"), ("ap-southeast-2", "lt-ap")] {
        for task in harness.tasks_in(region, cluster) {
            assert_eq!(task["lastStatus"], "STOPPED");
            assert_eq!(task["stopCode"], "EssentialContainerExited");
        }
    }
    // The verdict names the region that did not answer.
    run.assert_stdout_has(
        "its end is not known: DescribeTasks of 2 tasks in cluster `lt-eu` in eu-west-1",
    );
    run.assert_stdout_has("StopTask of ");
    // Its tasks are still running; the post step stops them once the region answers again.
    assert_eq!(
        harness
            .tasks_in("eu-west-1", "lt-eu")
            .iter()
            .filter(|task| task["lastStatus"] == "RUNNING")
            .count(),
        2
    );
    let cleanup = || {
        run_with(&harness, &inputs, &[])
            .env("ECS_LOADTEST_AWS_PERSISTENCE", "2s")
            .env("STATE_invocation", &invocation)
            .arg("cleanup")
            .run()
    };
    // While it is down, the post step says which region it could not list, and goes on.
    let early = cleanup();
    early.assert_code(0);
    early.assert_stdout_has("::warning::could not list this run's tasks: ListTasks started by `ecs-loadtest-9876543210-1` in cluster `lt-eu` in eu-west-1");
    harness.outage("eu-west-1", "ecs", 0.0);
    let cleanup = cleanup();
    cleanup.assert_code(0);
    cleanup
        .assert_stdout_has("::warning::cleanup stopped 2 of 2 task(s) that the step left running");
    for (region, cluster) in REGIONS {
        for task in harness.tasks_in(region, cluster) {
            assert_eq!(task["lastStatus"], "STOPPED", "{region}: {task:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_regions_tasks_are_priced_at_its_own_prices() {
    use wiremock::matchers::{body_partial_json, header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let harness = Harness::start();
    let (_, inputs) = three_regions(&harness, false);
    for (_, cluster) in REGIONS {
        harness.script(cluster, json!({"run_seconds": 1}), json!({}));
    }
    // Each region's Fargate prices, asked by its region code.
    let price_list = MockServer::start().await;
    let prices = [
        ("us-east-1", "USE1", "0.05", "0.006"),
        ("eu-west-1", "EUW1", "0.06", "0.007"),
        ("ap-southeast-2", "APS2", "0.07", "0.008"),
    ];
    for (region, code, vcpu, gb) in prices {
        Mock::given(method("POST"))
            .and(header("x-amz-target", "AWSPriceListService.GetProducts"))
            .and(body_partial_json(json!({"Filters": [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "CONTAINS", "Field": "usagetype", "Value": "Fargate"}
            ]})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "FormatVersion": "aws_v1",
                "PriceList": [
                    listed_product(region, &format!("{code}-Fargate-vCPU-Hours:perCPU"), vcpu),
                    listed_product(region, &format!("{code}-Fargate-GB-Hours"), gb),
                ]
            })))
            .mount(&price_list)
            .await;
    }
    let run = tokio::task::block_in_place(|| {
        run_with(
            &harness,
            &inputs,
            &[("cpu", "1024"), ("memory", "2048"), ("start-delay", "0")],
        )
        .env("AWS_ENDPOINT_URL_PRICING", &price_list.uri())
        .run()
    });

    run.assert_code(0);
    // Each task is billed the minimum minute: 60 vCPU-seconds and 120 GB-seconds.
    let cost = &run.results()["cost"];
    let usd: f64 = [(4.0, 0.05, 0.006), (2.0, 0.06, 0.007), (1.0, 0.07, 0.008)]
        .iter()
        .map(|(tasks, vcpu, gb)| tasks * (60.0 * vcpu + 120.0 * gb) / 3600.0)
        .sum();
    assert!(
        (cost["usd"].as_f64().unwrap() - usd).abs() < 1e-12,
        "{cost}"
    );
    let source = cost["source"].as_str().unwrap();
    for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
        assert!(
            source.contains(&format!("{region}'s on-demand prices")),
            "{source}"
        );
    }
}

#[test]
fn the_image_is_built_once_and_pushed_to_every_regions_repository() {
    let harness = Harness::start();
    let (_, inputs) = three_regions(&harness, true);
    for (_, cluster) in REGIONS {
        harness.script(cluster, json!({}), json!({}));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox"))
        .expect("busybox-static is installed by scripts/setup-docker-env.sh");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"true\"]\n",
    )
    .unwrap();
    let context = dir.path().display().to_string();
    let tag = crate::common::unique_tag();
    let extra = [("context", context.as_str()), ("image-tag", tag.as_str())];

    let run = run_with(&harness, &inputs, &extra).run();

    run.assert_code(0);
    assert_eq!(run.stdout.matches("::group::Build image").count(), 1);
    let images = run.output("image").to_string();
    for ((region, cluster), repository) in
        REGIONS.iter().zip(["tester-us", "tester-eu", "tester-ap"])
    {
        let host = format!("123456789012.dkr.ecr.{region}.amazonaws.com");
        run.assert_stdout_has(&format!("Pushed {host}/{repository}:{tag} ("));
        // The region's tasks run its own repository's image, by digest.
        assert!(
            images.contains(&format!("{region}: {host}/{repository}@sha256:")),
            "{images}"
        );
        for task in harness.tasks_in(region, cluster) {
            assert_eq!(task["lastStatus"], "STOPPED");
        }
    }

    // A re-run of the commit finds the tag in every region: nothing is built or pushed.
    let again = run_with(&harness, &inputs, &extra).run();
    again.assert_code(0);
    assert!(!again.stdout.contains("::group::Build image"));
    assert_eq!(again.stdout.matches("is in ECR already").count(), 3);
}

/// A k6 script in three regions: its image composed and checked once, pushed to every region's
/// repository, each region's task running it with its share; the merge is exact.
#[test]
fn a_k6_script_runs_in_three_regions_from_one_image() {
    use crate::server::{Behaviour, Server};

    let harness = Harness::start();
    let (_, inputs) = three_regions(&harness, true);
    let server = Server::start(Behaviour::default());
    let base_url = server.url().trim_end_matches('/').to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("load")).unwrap();
    // The run's own mark in the script: the test registry keeps what earlier runs pushed.
    let script = format!(
        r#"// {}
import http from 'k6/http';
export const options = {{
  scenarios: {{ load: {{ executor: 'shared-iterations', vus: 3, iterations: 30, maxDuration: '20s' }} }},
}};
export default function () {{
  http.get(`${{__ENV.BASE_URL}}/home`, {{ tags: {{ name: 'home' }} }});
}}
"#,
        crate::common::unique_tag()
    );
    std::fs::write(dir.path().join("load/checkout.js"), &script).unwrap();
    // What each task prints, its TASK_INDEX's share run here; the harness hands a task the lines
    // of its index, in whichever region's cluster it runs.
    let lines: Vec<Vec<String>> = (0..3)
        .map(|index| crate::k6::task_output(dir.path(), index, 3, &base_url))
        .collect();
    assert_eq!(server.requests(), 30);
    for (_, cluster) in REGIONS {
        harness.log_per_task(cluster, &lines);
    }

    let generator_image = crate::action::action_image();
    let run = run_with(
        &harness,
        &inputs,
        &[
            ("script", "load/checkout.js"),
            ("task-count", "3"),
            ("regions", "us-east-1: 1\neu-west-1: 1\nap-southeast-2: 1"),
            ("tester-image", crate::k6::k6_image()),
            ("generator-image", generator_image),
            ("environment", &format!("BASE_URL={base_url}")),
        ],
    )
    .in_dir(dir.path())
    .run();

    run.assert_code(0);
    // Composed and checked once, pushed to each region's repository.
    assert_eq!(
        run.stdout.matches("::group::Build image").count(),
        1,
        "{}",
        run.stdout
    );
    let images = run.output("image").to_string();
    for ((region, cluster), repository) in
        REGIONS.iter().zip(["tester-us", "tester-eu", "tester-ap"])
    {
        let host = format!("123456789012.dkr.ecr.{region}.amazonaws.com");
        assert!(
            images.contains(&format!("{region}: {host}/{repository}@sha256:")),
            "{images}"
        );
        let tasks = harness.tasks_in(region, cluster);
        assert_eq!(tasks.len(), 1, "{region}");
        let container = &tasks[0]["overrides"]["containerOverrides"][0];
        assert_eq!(
            container["command"],
            json!(["wrap", "k6", "--", "k6", "run", "load/checkout.js"])
        );
    }
    let results = run.results();
    assert_eq!(results["merged"]["requests"], 30, "{results:#}");
    let per_region: Vec<u64> = results["merged"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|region| region["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(per_region, [10, 10, 10], "{results:#}");
}
