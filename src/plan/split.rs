//! How a total (virtual users, requests per second) is shared across tasks.

/// Task `index` of `task_count` gets `floor(total / task_count)`, plus one while
/// `index < total mod task_count`, so the parts always add up to the total.
pub fn share(total: u64, task_count: usize, index: usize) -> u64 {
    let task_count = task_count.max(1) as u64;
    let index = index as u64;
    total / task_count + u64::from(index < total % task_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_and_differ_by_at_most_one() {
        for (total, task_count) in [(10, 3), (3, 3), (1000, 7), (1, 1), (999_999, 1000), (5, 10)] {
            let parts: Vec<u64> = (0..task_count)
                .map(|index| share(total, task_count, index))
                .collect();
            assert_eq!(
                parts.iter().sum::<u64>(),
                total,
                "{total} over {task_count}"
            );
            let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
            assert!(max - min <= 1, "{parts:?}");
        }
    }

    #[test]
    fn earlier_tasks_take_the_remainder() {
        let parts: Vec<u64> = (0..3).map(|index| share(10, 3, index)).collect();
        assert_eq!(parts, [4, 3, 3]);
        let parts: Vec<u64> = (0..4).map(|index| share(7, 4, index)).collect();
        assert_eq!(parts, [2, 2, 2, 1]);
    }
}
