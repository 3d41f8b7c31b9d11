"""What is trained: deit-micro's shape, its float backbone, the selector bank and the
pruned model with its fake-quantised forms, schedules, their costs, loading and float
evaluation, and the optional convolutional teacher."""
